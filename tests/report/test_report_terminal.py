"""Terminal renderer: golden output at width 100 without colour, escaping, colour when asked."""

from __future__ import annotations

import dataclasses
import io
import sys
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).parent))
import report_samples  # noqa: E402

from heredity.report import terminal  # noqa: E402

GOLDEN = Path(__file__).parent / "golden"


def test_terminal_matches_golden_related() -> None:
    text = terminal.render_text(report_samples.comparison(related=True), width=100)
    assert text == (GOLDEN / "compare_related.txt").read_text(encoding="utf-8")


def test_terminal_matches_golden_independent() -> None:
    text = terminal.render_text(report_samples.comparison(related=False), width=100)
    assert text == (GOLDEN / "compare_independent.txt").read_text(encoding="utf-8")


def test_verdict_sentence_comes_first() -> None:
    text = terminal.render_text(report_samples.comparison(related=False))
    assert text.splitlines()[0].startswith("INDEPENDENT: No evidence of shared lineage")


def test_hostile_names_are_escaped() -> None:
    comp = report_samples.comparison()
    evil = dataclasses.replace(comp.a, source="evil\x1b[31m[bold]name\n")
    text = terminal.render_text(dataclasses.replace(comp, a=evil))
    assert "\x1b" not in text
    assert "evil\\x1b[31m[bold]name\\n" in text


def test_emoji_codes_in_names_stay_text() -> None:
    """rich replaces ``:name:`` codes by emoji, and markup escaping leaves them alone."""
    comp = report_samples.comparison()
    evil = dataclasses.replace(comp.a, source="model:warning:x:thumbs_up:")
    comp = dataclasses.replace(comp, a=evil)
    assert "model:warning:x:thumbs_up:" in terminal.render_text(comp)
    from heredity.cli._output import stdout_console

    console = stdout_console()
    console.file = io.StringIO()
    terminal.render(comp, console)
    assert "model:warning:x:thumbs_up:" in console.file.getvalue()


def test_colour_only_on_a_terminal() -> None:
    buf = io.StringIO()
    terminal.render(report_samples.comparison(), Console(file=buf, force_terminal=True, color_system="standard", width=100))
    assert "\x1b[" in buf.getvalue()
    assert "\x1b[" not in terminal.render_text(report_samples.comparison())


def test_missing_fields_render() -> None:
    comp = report_samples.comparison()
    bare = dataclasses.replace(comp, evidence=(), tensors_read={}, bytes_read={}, version="",
                               verdict=dataclasses.replace(comp.verdict, p_value=None, reason="", power=""))
    text = terminal.render_text(bare)
    assert "combined p = -" in text and "read from A: 0 tensors" in text
