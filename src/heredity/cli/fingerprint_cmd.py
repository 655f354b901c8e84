"""``heredity fingerprint MODEL -o FP`` — save the small features that let MODEL be compared later
without its weights (``heredity compare FP1 FP2``, or a fingerprint against a model)."""

from __future__ import annotations

import click

from heredity.cli import _output as out
from heredity.errors import safe_name


@click.command(name="fingerprint")
@click.argument("model")
@out.output_option(required=True, help="The fingerprint file to write, under exactly this name (e.g. model.fp).")
@click.option("--no-hashes", is_flag=True, help="Skip tensor hashes (faster; the 'identical' test then cannot run).")
@out.quiet_option
def command(model: str, output: str, no_hashes: bool, quiet: bool) -> None:
    """Extract MODEL's fingerprint (1-D vectors, per-layer std, tensor hashes, a matching sketch) into
    one file that compare, inspect and matrix accept in place of the model."""
    from heredity import fingerprint
    from heredity.layouts import load_model

    fp = fingerprint.extract(load_model(model), hashes=not no_hashes)
    path = fingerprint.save(fp, output)
    out.note(f"wrote {safe_name(path)}: {len(fp.vectors)} vectors, {len(fp.hashes)} tensor hashes, "
             f"{len(fp.rows)} sketched matrices from {safe_name(model)}", quiet)
