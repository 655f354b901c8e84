"""``heredity registry add|search|list|show|remove|export|import`` — the fingerprint registry."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from heredity.cli import _output as out
from heredity.errors import UsageError, safe_name

F = TypeVar("F", bound=Callable[..., Any])

db_option = click.option("--db", "db", type=click.Path(dir_okay=False), default=None,
                         help="Registry file (default: $HEREDITY_REGISTRY, else ~/.local/share/heredity/registry.db).")


def _json_option(f: F) -> F:
    return click.option("--format", "fmt", type=click.Choice(("terminal", "json")), default="terminal",
                        show_default=True, help="Output format.")(f)


def _emit_json(doc: Any) -> None:
    out.write_text(json.dumps(doc, indent=2) + "\n", None)


@click.group(name="registry")
def command() -> None:
    """A registry of model fingerprints: add models, then ask what a model is derived from."""


@command.command(name="add")
@click.argument("models", nargs=-1, required=True)
@click.option("--name", default=None, help="Entry name (only with one MODEL; default: the folder or file name).")
@db_option
@_json_option
@out.quiet_option
def add(models: tuple[str, ...], name: str | None, db: str | None, fmt: str, quiet: bool) -> None:
    """Fingerprint each MODEL (folder, file, fingerprint or hub id) and register it; the same content
    registered twice is kept once."""
    from heredity.registry import Registry, ingest

    if name is not None and len(models) != 1:
        raise UsageError("--name needs exactly one MODEL", fix="add the models one at a time to name them")
    results = []
    with Registry(db) as reg, out.progress(quiet) as bar:
        for i, model in enumerate(models):
            bar(f"fingerprinting {model}", i, len(models))
            got = ingest(model)
            results.append(reg.add(got.fingerprint, source=got.source, name=name, revision=got.revision,
                                   tokenizer=got.tokenizer))
    if fmt == "json":
        _emit_json({"schema": "heredity.registry.add/1", "db": str(reg.path),
                    "entries": [r.entry.to_dict() | {"added": r.added} for r in results]})
        return
    for r in results:
        what = "added" if r.added else "already registered as"
        click.echo(f"{what} {safe_name(r.entry.name)} (key {r.entry.key[:12]}, {safe_name(r.entry.family)}, {r.entry.shape})")


@command.command(name="search")
@click.argument("model")
@db_option
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True, help="Show the K best matches.")
@out.format_option(("terminal", "json", "html"))
@out.output_option()
@click.option("--shortlist", type=click.IntRange(min=1), default=None,
              help="Entries compared in full beyond shared-hash hits (default 24, plus 8 of the same shape).")
@out.seed_option
@out.quiet_option
def search_cmd(model: str, db: str | None, top: int, fmt: str, output: str | None, shortlist: int | None,
               seed: int, quiet: bool) -> None:
    """Which registered models is MODEL (a model, fingerprint or hub id) derived from?  Each match has its
    p-value and the p-value Holm-adjusted over every entry searched."""
    import dataclasses
    from pathlib import Path

    from heredity.fingerprint import is_fingerprint_file
    from heredity.registry import Registry, ingest, render
    from heredity.registry.search import SHORTLIST, query_of, search

    with Registry(db, create=False) as reg:
        fp = ingest(model).fingerprint
        query = dataclasses.replace(query_of(fp), is_fingerprint=is_fingerprint_file(Path(model)))
        result = search(reg, fp, shortlist=shortlist or SHORTLIST, seed=seed, query=query)
    console = out.stdout_console()
    if fmt == "terminal" and output is None:
        render.search_terminal(result, console, top)
        return
    text = render.search_json(result, top) if fmt == "json" else render.search_html(result, top)
    out.write_text(text, output)
    if output is not None:
        out.note(f"wrote {output} ({result.outcome})", quiet)


@command.command(name="list")
@db_option
@_json_option
def list_cmd(db: str | None, fmt: str) -> None:
    """List every entry."""
    from heredity.registry import Registry, render

    with Registry(db, create=False) as reg:
        entries = reg.entries()
    if fmt == "json":
        _emit_json({"schema": "heredity.registry.list/1", "db": str(reg.path), "entries": [e.to_dict() for e in entries]})
        return
    out.stdout_console().print(render.entries_table(entries, f"{len(entries)} entries in {safe_name(reg.path)}"))


@command.command(name="show")
@click.argument("name")
@db_option
@_json_option
def show(name: str, db: str | None, fmt: str) -> None:
    """Show one entry (by name or key prefix)."""
    from heredity.registry import Registry, render

    with Registry(db, create=False) as reg:
        entry = reg.get(name)
        fp = reg.fingerprint(entry.key)
    if fmt == "json":
        _emit_json(entry.to_dict() | {"tensors": len(fp.keys), "vectors": len(fp.vectors), "hashes": len(fp.hashes)})
        return
    out.stdout_console().print(render.entry_table(entry))


@command.command(name="remove")
@click.argument("name")
@db_option
def remove(name: str, db: str | None) -> None:
    """Remove one entry (by name or key prefix)."""
    from heredity.registry import Registry

    with Registry(db, create=False) as reg:
        entry = reg.remove(name)
    click.echo(f"removed {safe_name(entry.name)} (key {entry.key[:12]})")


@command.command(name="export")
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
def export(file: str, db: str | None) -> None:
    """Write every entry into one portable file (an SQLite registry file; import it anywhere)."""
    from heredity.registry import Registry

    with Registry(db, create=False) as reg:
        n = reg.export_to(file)
    click.echo(f"exported {n} entries to {safe_name(file)}")


@command.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
def import_cmd(file: str, db: str | None) -> None:
    """Import the entries of an exported FILE, verifying each against its content key (a tampered
    entry refuses the whole import)."""
    from heredity.registry import Registry

    with Registry(file, readonly=True) as src, Registry(db) as reg:
        added, present = reg.import_from(src)
    click.echo(f"imported {len(added)} entries ({len(present)} already present)")

