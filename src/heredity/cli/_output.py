"""Shared CLI output: one stdout sink for results, stderr for everything else, progress, options.

The rule every command follows: stdout carries only the result (the JSON document with
``--format json``), so it can be piped; progress bars and "wrote FILE" notes go to stderr and are off
with ``--quiet`` or when stderr is not a terminal.  Rich already drops colour when stdout is not a
terminal or ``NO_COLOR`` is set.  Progress appears only once work has run longer than a second, so
fast commands print nothing extra.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import click

from heredity.errors import InputError, UsageError, safe_name

if TYPE_CHECKING:  # rich is imported where a console or a bar is made (it costs start-up time)
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from heredity.evidence.base import EvidenceTest

F = TypeVar("F", bound=Callable[..., Any])
ProgressFn = Callable[[str, int, int], None]
PROGRESS_DELAY_S = 1.0


PIPE_WIDTH = 100  # columns when stdout is a file or pipe and COLUMNS is unset (rich would use 80)


def stdout_console() -> Console:
    """The console for results: colour only on a terminal without NO_COLOR (rich's own rules); piped
    output is laid out at 100 columns so evidence tables do not wrap in logs and files."""
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=False, emoji=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPE_WIDTH
    return console


def stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, emoji=False)


def note(message: str, quiet: bool) -> None:
    """A one-line human note on stderr (``wrote report.html``), silenced by ``--quiet``."""
    if not quiet:
        click.echo(message, err=True)


def write_text(text: str, output: str | None) -> None:
    """Write a result to ``output`` (UTF-8), or to stdout when no file is given.

    The file is written atomically: a temporary file in the same folder is renamed over ``output``
    only once complete, so an interrupted or failed run leaves no partial file behind.
    """
    if output is None or output == "-":
        click.echo(text, nl=False)
        return
    import tempfile  # only when writing a file: 5-7 ms of start-up otherwise

    target = Path(output)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _unwritable(output, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except OSError as exc:
        raise _unwritable(output, exc) from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _unwritable(output: str, exc: OSError) -> InputError:
    return InputError(f"cannot write: {exc.strerror or exc}", path=output, fix="choose a writable path with -o")


def check_writable(output: str | None, *, folder: bool | None = False) -> None:
    """Refuse, before any analysis starts, an output that cannot be written.

    ``folder=False``: a file whose folder exists and is writable (and which is not itself a folder);
    ``folder=True``: a folder, existing or to be created under the nearest existing, writable folder;
    ``folder=None``: either (a file or a folder, e.g. ``forge derive -o``).  The check creates and
    removes a probe file in the folder that will receive the output.
    """
    if output is None or output == "-":
        return
    target = Path(output)
    if folder is True and target.exists() and not target.is_dir():
        raise InputError("cannot write: it exists and is not a folder", path=output, fix="choose a folder for -o")
    if folder is False and target.is_dir():
        raise InputError("cannot write: it is a folder", path=output, fix="give a file name with -o")
    parent = target if target.is_dir() else target.parent
    if folder is not False:  # folders are created as needed: probe the nearest existing ancestor
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"cannot write: folder {safe_name(parent)} does not exist", path=output,
                         fix="create the folder first or choose another path with -o")
    import tempfile

    try:
        fd, probe = tempfile.mkstemp(prefix=".heredity-probe-", dir=parent)
    except OSError as exc:
        raise _unwritable(output, exc) from None
    os.close(fd)
    os.unlink(probe)


def _check_file_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    check_writable(value)
    return value


def _check_folder_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    check_writable(value, folder=True)
    return value


def _check_any_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    check_writable(value, folder=None)
    return value


def split_names(value: str | None) -> list[str] | None:
    """``--tests a,b`` -> ``["a", "b"]``; None when the option was not given."""
    if value is None:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise UsageError("--tests is empty", fix="give comma-separated test names, e.g. --tests vectors,matching")
    return names


def test_plan(value: str | None, seed: int) -> list[EvidenceTest] | None:
    """``--tests vectors,matching:max_layers=4`` -> configured instances; None when not given."""
    names = split_names(value)
    if names is None:
        return None
    from heredity.evidence.plan import parse

    return parse(names, seed)


def command_line() -> str:
    """The invoked command rebuilt from its parsed parameters (provenance for reports)."""
    ctx = click.get_current_context()
    words = ctx.command_path.split()
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if isinstance(param, click.Argument):
            words += [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
        elif value not in (None, False, param.default) and param.opts:
            words += [param.opts[0]] if value is True else [param.opts[0], str(value)]
    return shlex.join(words)


class StepProgress:
    """A ``(step, done, total)`` callback drawing one rich progress bar on stderr.

    The bar appears only once the work has run for ``delay`` seconds (a timer starts it), so fast
    commands print nothing; the description follows the current step (e.g. the test being run).
    """

    def __init__(self, enabled: bool, delay: float = PROGRESS_DELAY_S) -> None:
        self.enabled = enabled
        self.delay = delay
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.shown = False

    def __call__(self, step: str, done: int, total: int) -> None:
        if not self.enabled or self._closed:
            return
        if self._progress is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=stderr_console(), transient=True,
            )
            self._task = self._progress.add_task(safe_name(step, 60), total=total)
            self._timer = threading.Timer(self.delay, self._show)
            self._timer.daemon = True
            self._timer.start()
        assert self._task is not None
        self._progress.update(self._task, description=safe_name(step, 60), completed=done, total=total)

    def _show(self) -> None:
        with self._lock:
            if not self._closed and self._progress is not None:
                self._progress.start()
                self.shown = True

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
            if self._progress is not None and self.shown:
                self._progress.stop()

    def __enter__(self) -> StepProgress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


@contextmanager
def progress(quiet: bool) -> Iterator[StepProgress]:
    """Progress bars on stderr unless ``--quiet`` or stderr is not a terminal."""
    with StepProgress(enabled=not quiet and sys.stderr.isatty()) as bar:
        yield bar


def format_option(choices: tuple[str, ...], default: str = "terminal") -> Callable[[F], F]:
    return click.option("--format", "fmt", type=click.Choice(choices), default=default, show_default=True,
                        help="Output format.")


def output_option(required: bool = False, help: str = "Write the result to this file instead of stdout.") -> Callable[[F], F]:
    """``-o FILE``, checked writable while the command line is parsed (before any analysis)."""
    return click.option("-o", "--output", required=required, type=click.Path(dir_okay=False),
                        callback=_check_file_option, help=help)


def output_folder_option(name: str = "output", *, file_okay: bool = False, **kwargs: Any) -> Callable[[F], F]:
    """``-o FOLDER`` (created if missing; ``file_okay``: or a file), checked writable while the command
    line is parsed."""
    return click.option("-o", "--output", name, type=click.Path(file_okay=file_okay),
                        callback=_check_any_option if file_okay else _check_folder_option, **kwargs)


quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress bars or notes on stderr.")
thorough_option = click.option(
    "--thorough", is_flag=True, default=False,
    help="Run every test of the plan (default: adaptive: cheapest first, stop once the verdict is settled).")
SEED_RANGE = click.IntRange(0, 2**63 - 1)
seed_option = click.option("--seed", type=SEED_RANGE, default=0, show_default=True,
                           help="Seed for permutation nulls (a non-negative integer).")
tests_option = click.option(
    "--tests", default=None, metavar="T1,T2",
    help="Run only these evidence tests, in this order; set parameters with NAME:KEY=VALUE, "
         "e.g. --tests vectors,matching:max_layers=4:max_rows=256.")
