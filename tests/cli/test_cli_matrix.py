"""``heredity matrix`` against a stand-in engine: formats, -o tree.html, usage errors."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "report"))
import report_samples  # noqa: E402

from heredity.cli.main import main  # noqa: E402


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A fake ``heredity.compare`` (``as_features`` + ``compare``); models named x* are unrelated to the rest."""
    opened: list[str] = []

    def as_features(source: str) -> str:
        opened.append(source)
        return source

    def compare(a: str, b: str, *, tests: Any = None, seed: int = 0, progress: Any = None) -> Any:
        return report_samples.comparison(related=not (a.startswith("x") or b.startswith("x")))

    module = types.ModuleType("heredity.compare")
    module.compare = compare  # type: ignore[attr-defined]
    module.as_features = as_features  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "heredity.compare", module)
    return opened


def test_matrix_terminal(engine: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "m1", "m2", "x3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 models, 3 pairs: 1 related, 2 independent, 0 inconclusive; 2 lineage group(s)")
    assert engine == ["m1", "m2", "x3"]


def test_matrix_json_stdout_only(engine: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "m1", "m2", "--format", "json", "--seed", "3"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tree"]["edges"][0]["parent"] == "m1" and doc["command"] == "heredity matrix m1 m2 --format json --seed 3"


def test_matrix_html_from_output_suffix(engine: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "tree.html"
    assert main(["matrix", "m1", "m2", "x3", "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "wrote" in capsys.readouterr().err


def test_matrix_needs_two_models(engine: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "m1"]) == 2
    assert "at least two models" in capsys.readouterr().err
