"""``heredity case NAME`` — worked case studies with known ground truth (trained here, cached in -o DIR)."""

from __future__ import annotations

import click

from heredity.cli import _output as out


@click.group(name="case")
def command() -> None:
    """Case studies: known-truth reconstructions of public lineage disputes."""


@command.command("moge-upcycle")
@out.output_folder_option("outdir", default="moge-upcycle-case", show_default=True,
                          help="Folder for the models (cached), the HTML reports and case.json.")
@click.option("--quick", is_flag=True, help="Fewer steps and null models (what CI runs).")
@out.format_option(("terminal", "json"))
@out.seed_option
@out.quiet_option
def moge_upcycle(outdir: str, quick: bool, fmt: str, seed: int, quiet: bool) -> None:
    """Pangu/Qwen in miniature: a dense Qwen2.5-shaped model upcycled into a MoGE vs a scratch MoGE.

    Shows the attn_std correlation of both pairs against its measured null beside heredity's verdicts,
    and writes report-upcycled.html and report-independent.html into the output folder."""
    from heredity.case import render
    from heredity.case.moge_upcycle import run_case
    from heredity.errors import require

    require("torch", "forge", "training the case-study models")
    with out.progress(quiet) as bar:
        result = run_case(outdir, quick=quick, seed=seed, progress=bar)
    if fmt == "json":
        out.write_text(render.render_json(result), None)
        return
    render.render_terminal(result, out.stdout_console())
