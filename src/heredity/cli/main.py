"""Entry point: the click group, error handling and exit codes.

Every command lives in its own module and is added below.  Errors derived from
:class:`heredity.errors.HeredityError` become one line on stderr and exit 2; anything else is an
internal error (exit 1).  ``HEREDITY_DEBUG=1`` shows tracebacks.
"""

from __future__ import annotations

import os
import sys

import click

from heredity import __version__
from heredity.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, HeredityError


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
    from heredity.cli import registry_cmd  # issue 10: registry, scan, verify-claim
    for extra in registry_cmd.COMMANDS:
        cli.add_command(extra)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (also used by tests)."""
    debug = os.environ.get("HEREDITY_DEBUG", "") not in ("", "0")
    try:
        cli.main(args=argv, prog_name="heredity", standalone_mode=False)
    except HeredityError as exc:
        if debug:
            raise
        click.echo(f"heredity: error: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("heredity: aborted", err=True)
        return EXIT_BAD_INPUT
    except click.ClickException as exc:
        if debug:
            raise
        click.echo(f"heredity: error: {exc.format_message()}", err=True)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # internal error: one line unless debugging
        if debug:
            raise
        click.echo(
            f"heredity: internal error: {type(exc).__name__}: {exc} (set HEREDITY_DEBUG=1 for a traceback)",
            err=True,
        )
        return EXIT_INTERNAL
    return _exit_code_from_context()


_pending_exit: list[int] = []


def set_exit_code(code: int) -> None:
    """Commands call this to request a non-zero exit (e.g. ``--fail-on related``)."""
    _pending_exit.append(code)


def _exit_code_from_context() -> int:
    code = _pending_exit[-1] if _pending_exit else 0
    _pending_exit.clear()
    return code


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
