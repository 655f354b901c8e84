"""``heredity scan SOURCES... --db FILE`` — fingerprint many models into the registry (locally or on
Ray), then show their lineage forest and each one's nearest registered base."""

from __future__ import annotations

import json

import click

from heredity.cli import _output as out
from heredity.errors import EXIT_BAD_INPUT, safe_name


@click.command(name="scan")
@click.argument("sources", nargs=-1)
@click.option("--from", "from_file", type=click.Path(dir_okay=False), default=None,
              help="Also scan the sources listed in this file (one a line; # comments).")
@click.option("--db", required=True, type=click.Path(dir_okay=False), help="Registry file to add the models to.")
@click.option("--engine", type=click.Choice(("local", "ray")), default="local", show_default=True,
              help="local: one process; ray: Ray Data actors (ray.init(); RAY_ADDRESS joins a cluster).")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Ray actors fingerprinting at once (ray engine).")
@out.format_option(("terminal", "json", "html"))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Also write one row per source: Parquet if it ends in .parquet (needs pyarrow), else JSON lines.")
@out.seed_option
@out.quiet_option
def command(sources: tuple[str, ...], from_file: str | None, db: str, engine: str, workers: int, fmt: str,
            output: str | None, seed: int, quiet: bool) -> None:
    """Fingerprint many models into the registry, then show their lineage forest and nearest bases.

    SOURCES are model folders, files, hub ids, or folders of models; content already registered is
    skipped, a bad source is recorded and the scan goes on.  Exit 0 when anything was scanned, 2 when
    nothing could be."""
    from heredity.registry import Registry
    from heredity.registry.scan import read_sources, scan, write_table

    listed = read_sources(sources, from_file)
    with Registry(db) as reg, out.progress(quiet) as bar:
        result = scan(listed, reg, engine=engine, workers=workers, progress=bar, seed=seed)
    if output is not None:
        kind = write_table(result, output)
        out.note(f"wrote {safe_name(output)} ({kind}, {len(listed)} rows)", quiet)
    _emit(result, fmt)
    if not result.anything_done:
        _exit(EXIT_BAD_INPUT)


def _emit(result: object, fmt: str) -> None:
    from heredity.registry.scan import ScanResult

    assert isinstance(result, ScanResult)
    if fmt == "json":
        out.write_text(json.dumps(result.to_dict(), indent=2) + "\n", None)
        return
    if fmt == "html":
        from heredity.report import matrix_render

        if result.forest is None:
            out.write_text("<!doctype html><html><body><p>nothing was scanned</p></body></html>\n", None)
        else:
            out.write_text(matrix_render.render_html(result.forest), None)
        return
    _terminal(result)


def _terminal(result: object) -> None:
    from rich.table import Table

    from heredity.registry.render import text
    from heredity.registry.scan import ScanResult
    from heredity.report import matrix_render

    assert isinstance(result, ScanResult)
    console = out.stdout_console()
    console.print(f"[bold]{result.engine}[/bold] scan: {len(result.added)} added, {len(result.skipped)} already "
                  f"registered, {len(result.failed)} failed")
    if result.nearest:
        table = Table(title="nearest registered base", title_justify="left")
        for col in ("model", "nearest base", "p adjusted", "search"):
            table.add_column(col, overflow="fold")
        for n in result.nearest:
            table.add_row(text(n.name, 60), text(n.base) if n.base else "-",
                          "-" if n.p_adjusted is None else f"{n.p_adjusted:.3g}", n.outcome)
        console.print(table)
    if result.forest is not None:
        console.print(matrix_render.lineage_tree(result.forest))
    for f in result.failed:
        console.print(f"[red]failed[/red] {text(f.source)}: {text(f.error, 300)}")


def _exit(code: int) -> None:
    """Exit with ``code`` (the CLI's ``main`` returns a command's ``ctx.exit`` code)."""
    click.get_current_context().exit(code)
