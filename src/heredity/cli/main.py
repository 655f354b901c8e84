"""Entry point: the click group, error handling and exit codes.

Every command lives in its own module and is added below.  Errors derived from
:class:`heredity.errors.HeredityError` and click usage errors become one line on stderr and exit 2;
Ctrl-C exits 130; anything else is an internal error (exit 1).  A command asks for another exit code
with click's ``ctx.exit(code)``.  ``HEREDITY_DEBUG=1`` shows tracebacks.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, cast

import click

from heredity import __version__
from heredity.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, HeredityError


class _LazyGroup(click.Group):
    """A group that imports a command's module only when that command is invoked (or asked for its
    help), so ``heredity --version`` and ``heredity --help`` import no command module at all.

    The listing in ``--help`` comes from the short help recorded with each name;
    ``tests/cli/test_startup.py`` checks it against the modules' own docstrings."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, tuple[str, str]] = {}  # name -> (module, short help)

    def add_lazy(self, name: str, module: str, short_help: str) -> None:
        self.lazy[name] = (module, short_help)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            command = importlib.import_module(self.lazy[cmd_name][0]).command
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing, without importing the commands that are not loaded yet."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            cmd = self.commands.get(name)
            if cmd is None:  # not imported: the recorded short help, cut as click cuts it
                cmd = click.Command(name, help=self.lazy[name][1])
            if not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="heredity")
def cli() -> None:
    """heredity: was this LLM checkpoint derived from that one, or trained independently?"""


def _register() -> None:
    """One line per command: its name, the module defining a click command named ``command`` (imported
    only when the command runs; heavy dependencies are imported inside the command body) and the
    short help ``heredity --help`` lists (the first sentence of the command's docstring)."""
    add = cast(_LazyGroup, cli).add_lazy
    add("inspect", "heredity.cli.inspect_cmd", "Show a model's family, structure, dtypes and tensor roles (reads headers only).")
    add("compare", "heredity.cli.compare_cmd", "Decide whether B shares lineage with A (models, files, fingerprints or hub ids).")
    add("report", "heredity.cli.report_cmd", "Compare A and B and write one HTML file: verdict, evidence, plots, provenance, JSON twin.")
    add("fingerprint", "heredity.cli.fingerprint_cmd", "Extract MODEL's fingerprint (1-D vectors, per-layer std, tensor hashes, a matching sketch) into one file that compare, inspect and matrix accept in place of the model.")
    add("matrix", "heredity.cli.matrix_cmd", "Compare every pair of MODELS (list base models first) and draw their lineage tree.")
    add("forge", "heredity.cli.forge_cmd", "Forge ground truth: tiny trained models and their derivations.")
    add("bench", "heredity.cli.bench_cmd", "Score lineage detectors on forged related / independent pairs: accuracy, FPR, AUC, TPR at 1% FPR.")
    add("case", "heredity.cli.case_cmd", "Case studies: known-truth reconstructions of public lineage disputes.")
    add("registry", "heredity.cli.registry_cmd", "A registry of model fingerprints: add models, then ask what a model is derived from.")
    add("scan", "heredity.cli.scan_cmd", "Fingerprint many models into the registry, then show their lineage forest and nearest bases.")
    add("verify-claim", "heredity.cli.verify_claim_cmd", "Check the base model a model card claims: confirmed, contradicted or unverifiable.")


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


#: BLAS thread pools the command line runs with unless the environment says otherwise.  heredity's
#: matrix products are small (at most a few hundred rows by the FFN width): a pool of threads buys
#: little for them and, on a machine whose cores are busy, costs a lot (a 7B compare on 2 shared cores
#: took 1.3x the wall time and twice the CPU with OpenBLAS's default pool; docs/LOG.md).
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def entry() -> None:
    for var in BLAS_THREAD_VARS:  # read by numpy's BLAS when it loads, which no command has done yet
        os.environ.setdefault(var, "1")
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
