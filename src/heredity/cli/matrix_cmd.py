"""``heredity matrix M1 M2 ...`` — every pair compared, and the lineage tree the p-values suggest."""

from __future__ import annotations

import dataclasses

import click

from heredity.cli import _output as out


@click.command(name="matrix")
@click.argument("models", nargs=-1, required=True)
@out.format_option(("terminal", "json", "html"))
@out.output_option()
@out.tests_option
@out.seed_option
@out.quiet_option
def command(models: tuple[str, ...], fmt: str, output: str | None, tests: str | None, seed: int, quiet: bool) -> None:
    """Compare every pair of MODELS (list base models first) and draw their lineage tree.

    With -o FILE.html (or --format html) the tree and a heat map go into one HTML file."""
    from heredity.matrix import LibraryEngine, compare_all
    from heredity.report import matrix_render

    if output and output.endswith((".html", ".htm")) and fmt == "terminal":
        fmt = "html"
    with out.progress(quiet) as bar:
        result = compare_all(list(models), LibraryEngine(), tests=out.test_plan(tests, seed), seed=seed, progress=bar)
    result = dataclasses.replace(result, command=out.command_line())
    console = out.stdout_console()
    if fmt == "terminal" and output is None and console.is_terminal:
        matrix_render.render(result, console)
        return
    renderers = {"terminal": lambda r: matrix_render.render_text(r, width=console.width), "json": matrix_render.render_json, "html": matrix_render.render_html}
    out.write_text(renderers[fmt](result), output)
    if output is not None:
        out.note(f"wrote {output} ({len(result.roots)} lineage group(s))", quiet)
