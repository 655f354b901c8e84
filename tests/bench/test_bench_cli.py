"""`heredity bench` from the command line: wiring on fake pairs (fast) and the quick suite (slow, CI)."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from heredity.bench import runner
from heredity.cli.main import main

TOOL = "import json, sys; print(json.dumps({'p_value': 1e-12 if 'rel' in sys.argv[2] else 0.3}))"


@dataclass(frozen=True)
class Pair:
    id: str
    category: str
    label: str
    a_path: str
    b_path: str


@pytest.fixture()
def fake_suite(monkeypatch: pytest.MonkeyPatch) -> list[Pair]:
    pairs = [Pair("r", "finetune", "related", "base", "rel-child"), Pair("i", "seed", "independent", "base", "other")]
    monkeypatch.setattr(runner, "load_suite", lambda root, quick: pairs)
    return pairs


def _cmd() -> str:
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(TOOL)} {{a}} {{b}}"


def test_bench_scores_an_external_command(fake_suite: list[Pair], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--no-heredity", "--cmd", _cmd(), "--format", "json", "-q"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "heredity.bench/1" and list(doc["detectors"]) == ["cmd"]
    cmd = doc["detectors"]["cmd"]
    assert (cmd["accuracy"], cmd["false_positive_rate"], cmd["auc"], cmd["tpr_at_fpr_1pct"]) == (1.0, 0.0, 1.0, 1.0)
    assert [c["results"]["cmd"]["verdict"] for c in doc["cases"]] == ["related", "independent"]


def test_bench_terminal_and_output_file(fake_suite: list[Pair], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--no-heredity", "--cmd", _cmd()]) == 0
    assert "Detectors over all pairs" in capsys.readouterr().out
    target = tmp_path / "bench.json"
    assert main(["bench", "--no-heredity", "--cmd", _cmd(), "--format", "json", "-o", str(target), "-q"]) == 0
    assert json.loads(target.read_text())["cases"][0]["id"] == "r"


def test_bench_usage_errors(fake_suite: list[Pair], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--no-heredity"]) == 2
    assert main(["bench", "--cmd", "tool {a}"]) == 2
    assert "placeholders" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_quick_suite(quick_suite_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The quick suite end to end: heredity never calls an independent pair related, and finds lineage."""
    pytest.importorskip("torch")
    assert main(["bench", "--quick", "--root", str(quick_suite_root), "--format", "json", "-q"]) == 0
    doc = json.loads(capsys.readouterr().out)
    h = doc["detectors"]["heredity"]
    assert h["false_positive_rate"] == 0.0
    assert h["tpr_at_fpr_1pct"] >= 0.8 and h["auc"] >= 0.9
    assert {"attn_std", "attn_std@calibrated", "matching", "vectors"} <= set(doc["detectors"])
    labels = {c["label"] for c in doc["cases"]}
    assert labels == {"related", "independent"} and len(doc["cases"]) >= 20
