"""Exit codes as documented: 2 for bad input and usage (outputs checked before any analysis),
130 for Ctrl-C with one line and no partial output file, 3 for --fail-on, 1 only for bugs."""

from __future__ import annotations

import json
import os
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
    """A stand-in ``heredity.compare``: records calls; model 'interrupt' raises KeyboardInterrupt,
    'bug' a ZeroDivisionError."""
    calls: list[str] = []

    def compare(a: str, b: str, **kwargs: Any) -> Any:
        calls.append(f"{a} {b}")
        if "interrupt" in (a, b):
            raise KeyboardInterrupt
        if "bug" in (a, b):
            raise ZeroDivisionError("a bug")
        return report_samples.comparison(related=True, command="")

    module = types.ModuleType("heredity.compare")
    module.compare = compare  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "heredity.compare", module)
    return calls


@pytest.mark.parametrize("argv", [
    ["compare", "m1", "m2", "-o", "{missing}/r.json", "--format", "json"],
    ["report", "m1", "m2", "-o", "{missing}/r.html"],
    ["matrix", "m1", "m2", "-o", "{missing}/t.html"],
    ["fingerprint", "m1", "-o", "{missing}/m1.fp"],
    ["compare", "m1", "m2", "-o", "{tmp}"],  # a folder, not a file
    ["bench", "--quick", "-o", "{missing}/b.json"],
    ["case", "moge-upcycle", "-o", "{file}/sub"],  # under a file: cannot be created
])
def test_unwritable_output_exits_2_before_analysis(argv: list[str], engine: list[str], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("x")
    subst = {"missing": str(tmp_path / "no" / "such"), "tmp": str(tmp_path), "file": str(tmp_path / "afile")}
    assert main([a.format(**subst) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("cannot write" in err or "is a directory" in err)
    assert engine == []  # nothing was analysed


def test_read_only_folder_refused(engine: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    assert main(["compare", "m1", "m2", "-o", str(ro / "r.json")]) == 2 and engine == []


def test_ctrl_c_exits_130_with_one_line_and_no_file(engine: list[str], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "r.json"
    assert main(["compare", "m1", "interrupt", "--format", "json", "-o", str(target)]) == 130
    captured = capsys.readouterr()
    assert captured.err == "heredity: interrupted\n" and captured.out == ""
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_leaves_no_partial_file(engine: list[str], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "r.json"
    target.write_text("the previous report")

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    assert main(["compare", "m1", "m2", "--format", "json", "-o", str(target), "-q"]) == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
    assert target.read_text() == "the previous report"  # untouched, not half-written


def test_written_file_is_complete_and_temp_removed(engine: list[str], tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    assert main(["compare", "m1", "m2", "--format", "json", "-o", str(target), "-q"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
    assert json.loads(target.read_text(encoding="utf-8"))["verdict"] == "related"


def test_a_bug_exits_1_with_one_line(engine: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "m1", "bug"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: ZeroDivisionError" in err


def test_fail_on_uses_clicks_exit_code(engine: list[str]) -> None:
    assert main(["compare", "m1", "m2", "--fail-on", "related", "-q"]) == 3
    assert main(["compare", "m1", "m2", "-q"]) == 0  # no state carried over from the previous run
