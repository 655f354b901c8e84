"""The --cmd detector: placeholders, no shell, JSON or exit-code verdicts, failures as inconclusive."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from heredity.bench.external import CommandDetector, build_argv, parse_output
from heredity.errors import UsageError

TOOL = """
import json, sys
a, b = sys.argv[1], sys.argv[2]
if "exit3" in b: sys.exit(3)
if "crash" in b: sys.stderr.write("boom\\n"); sys.exit(7)
if "plain" in b: sys.exit(0)
print(json.dumps({"p_value": 1e-9 if "rel" in b else 0.5, "arg_b": b}))
"""


@pytest.fixture()
def tool(tmp_path: Path) -> str:
    script = tmp_path / "tool.py"
    script.write_text(TOOL)
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {{a}} {{b}}"


def test_paths_are_single_words_and_never_shell(tool: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = f"rel $(touch {marker}); echo x"
    argv = build_argv(tool, "a path", hostile)
    assert argv[-2:] == ["a path", hostile]
    out = CommandDetector(tool).run("a path", hostile)["cmd"]
    assert out.verdict == "related" and out.p_value == pytest.approx(1e-9) and out.seconds > 0
    assert not marker.exists()


def test_json_p_value_exit_codes_and_failures(tool: str) -> None:
    det = CommandDetector(tool, name="other")
    assert det.run("a", "ind")["other"].verdict == "independent"
    assert det.run("a", "exit3")["other"].verdict == "related"
    assert det.run("a", "plain")["other"].verdict == "independent"
    crashed = det.run("a", "crash")["other"]
    assert crashed.verdict == "inconclusive" and "exit status 7: boom" in crashed.note


def test_missing_program_is_inconclusive() -> None:
    out = CommandDetector("/nonexistent/tool-xyz {a} {b}").run("a", "b")["cmd"]
    assert out.verdict == "inconclusive" and "could not run" in out.note


def test_bad_templates_are_usage_errors() -> None:
    for template in ("tool {a}", "", "tool '{a} {b}"):
        with pytest.raises(UsageError):
            CommandDetector(template)


def test_parse_output_prefers_the_json_verdict() -> None:
    assert parse_output('{"verdict": "inconclusive", "p_value": 0.001}', 0) == ("inconclusive", 0.001, "")
    assert parse_output('{"p_value": 2.0}', 0)[0] == "inconclusive"  # out of range: unusable
    assert parse_output("not json", 3)[0] == "related"
    assert parse_output("[1, 2]", 0)[0] == "independent"  # not an object: fall back to the exit status
