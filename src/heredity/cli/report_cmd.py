"""``heredity report A B -o report.html`` — the self-contained HTML report for one pair."""

from __future__ import annotations

import click

from heredity.cli import _output as out
from heredity.cli.compare_cmd import emit, run_compare


@click.command(name="report")
@click.argument("a")
@click.argument("b")
@out.output_option(required=True)
@out.tests_option
@out.thorough_option
@out.seed_option
@out.quiet_option
def command(a: str, b: str, output: str, tests: str | None, thorough: bool, seed: int, quiet: bool) -> None:
    """Compare A and B and write one HTML file: verdict, evidence, plots, provenance, JSON twin."""
    comp = run_compare(a, b, tests=out.test_plan(tests, seed), seed=seed, quiet=quiet, thorough=thorough)
    emit(comp, "html", output, quiet)
