"""``heredity verify-claim MODEL [--base X]`` — is MODEL derived from the base its model card claims?

Exit codes (for CI gates): 0 confirmed, 4 contradicted, 5 unverifiable, 2 bad input."""

from __future__ import annotations

import json

import click

from heredity.cli import _output as out


@click.command(name="verify-claim")
@click.argument("model")
@click.option("--base", "bases", multiple=True,
              help="The claimed base (path, hub id or registry entry); default: base_model in MODEL/README.md.")
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="Registry to resolve bases and find the nearest one (default: $HEREDITY_REGISTRY if set).")
@click.option("--format", "fmt", type=click.Choice(("terminal", "json")), default="terminal", show_default=True,
              help="Output format.")
@out.seed_option
def command(model: str, bases: tuple[str, ...], db: str | None, fmt: str, seed: int) -> None:
    """Check the base model a model card claims: confirmed, contradicted or unverifiable.

    Exit 0 confirmed, 4 contradicted, 5 unverifiable, with the evidence; when the claim is contradicted,
    the nearest registered base is named if the registry has one."""
    import os

    from heredity.cli.scan_cmd import _exit
    from heredity.registry import Registry
    from heredity.registry.claim import card_base_models, verify

    claimed = list(bases) or card_base_models(model)
    claim_from = "--base" if bases else ("model card" if claimed else "none")
    path = db or os.environ.get("HEREDITY_REGISTRY")
    registry = Registry(path, create=False) if path else None
    try:
        result = verify(model, claimed, claim_from, registry, seed=seed)
    finally:
        if registry is not None:
            registry.close()
    if fmt == "json":
        out.write_text(json.dumps(result.to_dict(), indent=2) + "\n", None)
    else:
        from heredity.registry.render import text

        console = out.stdout_console()
        console.print(f"[bold]{result.answer}[/bold]: {text(model)} claims "
                      f"{', '.join(text(b) for b in result.claimed) or 'no base'} ({result.claim_from})")
        console.print(result.reason, markup=False)
        for c in result.checked:
            if c.comparison is not None:
                for e in c.comparison.evidence:
                    if e.applicable:
                        console.print(f"  {e.test}: {e.summary}", markup=False)
    if result.exit_code:
        _exit(result.exit_code)
