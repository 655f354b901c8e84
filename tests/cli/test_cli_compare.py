"""``heredity compare`` / ``report`` against a stand-in engine: formats, stdout purity, exit codes.

The engine is replaced by a module that returns hand-made comparisons, so these tests pin down the
command's own behaviour; tests with the real engine on real models live in test_cli_compare_real.py.
"""

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
from heredity.errors import NotFoundError  # noqa: E402
from heredity.report import schema  # noqa: E402


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Install a fake ``heredity.compare`` module; returns the list of calls it received."""
    calls: list[dict[str, Any]] = []

    def compare(a: str, b: str, *, tests: Any = None, seed: int = 0, thorough: bool = False, progress: Any = None) -> Any:
        calls.append({"a": a, "b": b, "tests": tests, "seed": seed})
        if a == "missing":
            raise NotFoundError("no such model", path=a, fix="check the path")
        if progress is not None:
            progress("reading", 1, 2)
        return report_samples.comparison(related=(b != "unrelated"), command="")

    module = types.ModuleType("heredity.compare")
    module.compare = compare  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "heredity.compare", module)
    return calls


def test_json_stdout_is_only_json(engine: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "m1", "m2", "--format", "json", "--tests", "vectors, matching", "--seed", "7"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert schema.validate(doc) == [] and doc["verdict"] == "related"
    assert doc["command"] == "heredity compare m1 m2 --format json --tests 'vectors, matching' --seed 7"
    from heredity.evidence.matching import MatchingTest
    from heredity.evidence.vectors import VectorsTest

    assert engine == [{"a": "m1", "b": "m2", "tests": [VectorsTest(seed=7), MatchingTest(seed=7)], "seed": 7}]


def test_terminal_output(engine: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "m1", "m2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("RELATED: A and B share lineage.") and "\x1b[" not in out


@pytest.mark.parametrize(("b", "code"), [("m2", 3), ("unrelated", 0)])
def test_fail_on_related(engine: list[dict[str, Any]], b: str, code: int) -> None:
    assert main(["compare", "m1", b, "--fail-on", "related", "-q"]) == code


def test_output_file_and_note(engine: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "r.html"
    assert main(["compare", "m1", "m2", "--format", "html", "-o", str(target)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and f"wrote {target} (related)" in captured.err
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_command_writes_html(engine: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "report.html"
    assert main(["report", "m1", "m2", "-o", str(target), "-q"]) == 0
    page = target.read_text(encoding="utf-8")
    assert 'id="heredity-json"' in page and "heredity report m1 m2" in page
    assert capsys.readouterr().err == ""


def test_report_requires_output(engine: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "m1", "m2"]) == 2
    assert "-o" in capsys.readouterr().err


def test_bad_input_exits_2_with_one_line(engine: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "missing", "m2", "--format", "json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "missing: no such model" in captured.err


def test_empty_tests_option_is_usage_error(engine: list[dict[str, Any]]) -> None:
    assert main(["compare", "m1", "m2", "--tests", ","]) == 2
    assert engine == []


def test_unwritable_output(engine: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "m1", "m2", "--format", "json", "-o", str(tmp_path / "no" / "such" / "dir.json")]) == 2
    assert "cannot write" in capsys.readouterr().err
