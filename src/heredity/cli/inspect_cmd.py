"""``heredity inspect MODEL`` — placeholder wired by the skeleton; the layouts work replaces the body."""

from __future__ import annotations

import click


@click.command(name="inspect")
@click.argument("model")
@click.option("--format", "fmt", type=click.Choice(["terminal", "json"]), default="terminal")
def command(model: str, fmt: str) -> None:
    """Show a model's family, structure, dtypes and tensor roles."""
    from heredity.errors import UsageError

    raise UsageError("inspect is being built")
