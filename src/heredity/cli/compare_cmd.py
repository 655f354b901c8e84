"""``heredity compare A B`` — the verdict on one pair, in the terminal, as JSON or as an HTML report."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import click

from heredity.cli import _output as out
from heredity.errors import EXIT_FAIL_ON
from heredity.results import Comparison

if TYPE_CHECKING:
    from collections.abc import Sequence

    from heredity.evidence.base import EvidenceTest


def run_compare(a: str, b: str, *, tests: Sequence[EvidenceTest] | None, seed: int, quiet: bool,
                thorough: bool = False) -> Comparison:
    """Call the comparison engine with progress on stderr; record the command line for provenance."""
    from heredity.compare import compare

    with out.progress(quiet) as bar:
        comp = compare(a, b, tests=tests, seed=seed, thorough=thorough, progress=bar)
    return comp if comp.command else dataclasses.replace(comp, command=out.command_line())


def emit(comp: Comparison, fmt: str, output: str | None, quiet: bool) -> None:
    """Terminal format to a terminal keeps colour; everything else is written as text."""
    from heredity.report import render

    if fmt == "terminal" and output is None:
        from heredity.report import terminal  # rich: only for terminal output

        console = out.stdout_console()
        if console.is_terminal:
            terminal.render(comp, console)
        else:  # a pipe: plain text at the console's width
            out.write_text(terminal.render_text(comp, width=console.width), None)
        return
    out.write_text(render.render_as(comp, fmt), output)
    if output is not None:
        out.note(f"wrote {output} ({comp.verdict.label})", quiet)


@click.command(name="compare")
@click.argument("a")
@click.argument("b")
@out.format_option(("terminal", "json", "html"))
@out.output_option()
@out.tests_option
@out.thorough_option
@out.seed_option
@out.quiet_option
@click.option("--fail-on", type=click.Choice(["related"]), default=None, help="Exit 3 when the verdict is related.")
def command(a: str, b: str, fmt: str, output: str | None, tests: str | None, thorough: bool, seed: int,
            quiet: bool, fail_on: str | None) -> None:
    """Decide whether B shares lineage with A (models, files, fingerprints or hub ids)."""
    comp = run_compare(a, b, tests=out.test_plan(tests, seed), seed=seed, quiet=quiet, thorough=thorough)
    emit(comp, fmt, output, quiet)
    if fail_on == "related" and comp.verdict.label == "related":
        click.get_current_context().exit(EXIT_FAIL_ON)
