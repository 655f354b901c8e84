"""``heredity inspect MODEL`` — family, structure, dtypes, parameter count and tensor roles."""

from __future__ import annotations

import json

import click

from heredity.cli import _output as out


@click.command(name="inspect")
@click.argument("model")
@out.format_option(("terminal", "json"))
@click.option("--scan", is_flag=True, default=False,
              help="Also read every tensor once (streamed) and report NaN/Inf values per tensor.")
def command(model: str, fmt: str, scan: bool) -> None:
    """Show a model's family, structure, dtypes and tensor roles (reads headers only).

    MODEL may also be a fingerprint file: its model's structure and roles are shown.  With --scan every
    tensor is read once and NaN/Inf values are counted per tensor."""
    from pathlib import Path

    from heredity import fingerprint
    from heredity.inspect import inspect_model
    from heredity.layouts import load_model
    from heredity.report import inspect_render

    if fingerprint.is_fingerprint_file(Path(model)):
        result = fingerprint.inspect_fingerprint(fingerprint.load(model))
    else:
        import dataclasses

        from heredity.inspect import scan_values

        loaded = load_model(model)
        try:
            result = inspect_model(loaded)
            if scan:
                result = dataclasses.replace(result, nonfinite=scan_values(loaded))
        finally:
            loaded.checkpoint.close()
    if fmt == "json":
        out.write_text(json.dumps(result.to_dict(), indent=2) + "\n", None)
    else:
        inspect_render.render(result, out.stdout_console())
