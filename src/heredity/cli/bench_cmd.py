"""``heredity bench`` — score heredity, each of its tests, the attn_std baseline and any other tool on the
labelled ground-truth suite the forge builds (trained once, cached under ``--root``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from heredity.cli import _output as out

if TYPE_CHECKING:
    from heredity.bench.detectors import Detector


def default_root(quick: bool) -> Path:
    """Where the suite is cached unless ``--root`` is given: $XDG_CACHE_HOME (or ~/.cache)/heredity/bench."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "heredity" / "bench" / ("quick" if quick else "full")


def detectors(cmds: tuple[str, ...], tests: str | None, seed: int, skip_heredity: bool) -> list[Detector]:
    """heredity (unless skipped) plus one CommandDetector per ``--cmd`` (named cmd, cmd2, ...)."""
    from heredity.bench.detectors import HeredityDetector
    from heredity.bench.external import CommandDetector

    found: list[Detector] = [] if skip_heredity else [HeredityDetector(out.test_plan(tests, seed), seed)]
    for i, template in enumerate(cmds):
        found.append(CommandDetector(template, name="cmd" if i == 0 else f"cmd{i + 1}"))
    return found


@click.command(name="bench")
@click.option("--quick", is_flag=True, help="The quick suite (minutes on 2 cores; what CI runs).")
@click.option("--root", type=click.Path(file_okay=False), default=None, callback=out._check_folder_option,
              help="Where the suite's models are built and cached (default: ~/.cache/heredity/bench).")
@out.format_option(("terminal", "json"))
@out.output_option()
@click.option("--cmd", "cmds", multiple=True, metavar="TEMPLATE",
              help="Also score another tool: a command with {a} and {b} (JSON with verdict/p_value on "
                   "stdout, or exit 0 = independent, 3 = related). Repeatable.")
@click.option("--no-heredity", is_flag=True, help="Score only the --cmd tools.")
@out.tests_option
@out.seed_option
@out.quiet_option
def command(quick: bool, root: str | None, fmt: str, output: str | None, cmds: tuple[str, ...], no_heredity: bool,
            tests: str | None, seed: int, quiet: bool) -> None:
    """Score lineage detectors on forged related / independent pairs: accuracy, FPR, AUC, TPR at 1% FPR."""
    from heredity.bench import render
    from heredity.bench.runner import load_suite, run_bench
    from heredity.errors import UsageError

    if no_heredity and not cmds:
        raise UsageError("--no-heredity leaves nothing to score", fix="add --cmd 'tool {a} {b}'")
    dets = detectors(cmds, tests, seed, no_heredity)
    cases = load_suite(root or default_root(quick), quick)
    with out.progress(quiet) as bar:
        result = run_bench(cases, dets, progress=bar)
    if fmt == "terminal" and output is None:
        render.render_terminal(result, out.stdout_console())
        return
    out.write_text(render.render_json(result) if fmt == "json" else render.render_text(result), output)
    if output is not None:
        out.note(f"wrote {output} ({len(result.cases)} pairs)", quiet)
