"""Entry point: the click group, error handling and exit codes.

Every command lives in its own module and is added below.  Errors derived from
:class:`heredity.errors.HeredityError` and click usage errors become one line on stderr and exit 2;
Ctrl-C exits 130; anything else is an internal error (exit 1).  A command asks for another exit code
with click's ``ctx.exit(code)``.  ``HEREDITY_DEBUG=1`` shows tracebacks.
"""

from __future__ import annotations

import os
import sys

import click

from heredity import __version__
from heredity.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, HeredityError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="heredity")
def cli() -> None:
    """heredity: was this LLM checkpoint derived from that one, or trained independently?"""


def _register() -> None:
    """Add every command; each module defines a click command named ``command`` and imports its heavy
    dependencies inside the command body, so ``heredity --help`` stays fast."""
    from heredity.cli import (
        bench_cmd,
        case_cmd,
        compare_cmd,
        fingerprint_cmd,
        forge_cmd,
        inspect_cmd,
        matrix_cmd,
        report_cmd,
    )

    for module in (inspect_cmd, compare_cmd, report_cmd, fingerprint_cmd, matrix_cmd, forge_cmd, bench_cmd, case_cmd):
        cli.add_command(module.command)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (also used by tests).

    Click's own parsing runs without its standalone wrapper, so every outcome is mapped here: a
    command's ``ctx.exit(code)`` (``--fail-on``) returns that code; a click usage error or a
    :class:`HeredityError` prints one line and returns 2; Ctrl-C prints one line and returns 130
    (outputs are written atomically, so no partial file is left); anything else is a bug: 1.
    """
    debug = os.environ.get("HEREDITY_DEBUG", "") not in ("", "0")
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        with cli.make_context("heredity", args) as ctx:
            cli.invoke(ctx)
    except click.exceptions.Exit as exc:  # --help, --version, ctx.exit(code)
        return int(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("\nheredity: interrupted" if sys.stderr.isatty() else "heredity: interrupted", err=True)
        return EXIT_INTERRUPTED
    except HeredityError as exc:
        if debug:
            raise
        click.echo(f"heredity: error: {exc}", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        if debug:
            raise
        hint = _usage_hint(exc)
        click.echo(f"heredity: error: {exc.format_message()}{hint}", err=True)
        return EXIT_BAD_INPUT
    except Exception as exc:  # internal error: one line unless debugging
        if debug:
            raise
        click.echo(
            f"heredity: internal error: {type(exc).__name__}: {exc} (set HEREDITY_DEBUG=1 for a traceback)",
            err=True,
        )
        return EXIT_INTERNAL
    return EXIT_OK


def _usage_hint(exc: click.ClickException) -> str:
    """`` (see: heredity compare --help)`` for a usage error inside a known command."""
    ctx = getattr(exc, "ctx", None)
    return f" (see: {ctx.command_path} --help)" if isinstance(exc, click.UsageError) and ctx is not None else ""


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
