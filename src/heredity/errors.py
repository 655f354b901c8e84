"""Every error heredity raises on purpose, and how the CLI reports it.

The hierarchy::

    HeredityError                      base; ``message`` + ``fix`` (what to do next) + ``path``
    ├── UsageError                     bad command-line usage                 -> exit 2
    ├── InputError                     a checkpoint or file that cannot be used -> exit 2
    │   ├── NotFoundError              the path / hub id does not exist
    │   ├── UnsupportedFormatError     no reader recognises the file
    │   ├── CorruptCheckpointError     header, offsets, shapes or dtypes are inconsistent
    │   └── UnsafeCheckpointError      a pickle that would run code, a path escaping its folder, ...
    ├── MissingDependencyError         an optional extra is not installed    -> exit 2
    └── NotApplicableError             a test cannot run on these models (never reaches the CLI)

Anything else escaping to the CLI is an internal error (exit 1); Ctrl-C exits 130 and ``--fail-on
related`` exits 3 on a related verdict.  Messages are one line; names
that come from a checkpoint are escaped with :func:`safe_name` before they are put in a message.
"""

from __future__ import annotations

from heredity.results import Exclusion

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_FAIL_ON = 3
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


def safe_name(text: object, limit: int = 200) -> str:
    """Escape a name from untrusted input for printing: no control characters, bounded length."""
    s = str(text)
    out = s.encode("unicode_escape", errors="backslashreplace").decode("ascii")
    if len(out) > limit:
        out = out[: limit - 3] + "..."
    return out


class HeredityError(Exception):
    """Base class. ``str(err)`` is the one-line message the CLI prints."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, path: object | None = None, fix: str | None = None) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(f"{safe_name(self.path)}: ")
        parts.append(self.message)
        if self.fix:
            parts.append(f" ({self.fix})")
        return "".join(parts)


class UsageError(HeredityError):
    """The command line was wrong."""


class InputError(HeredityError):
    """A file or model cannot be used."""


class NotFoundError(InputError):
    """A path or hub id does not exist."""


class UnsupportedFormatError(InputError):
    """No reader recognises the file."""


class CorruptCheckpointError(InputError):
    """A header, offset, shape or dtype is inconsistent, or the file is truncated."""


class UnsafeCheckpointError(InputError):
    """The file asks for something unsafe (arbitrary pickle globals, paths outside its folder)."""


class MissingDependencyError(HeredityError):
    """An optional extra is needed. ``fix`` names the pip command."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{package}' package",
            fix=f"install it with: pip install 'heredity[{extra}]'",
        )
        self.package = package
        self.extra = extra


class NotApplicableError(HeredityError):
    """A test cannot run on the given models; ``why`` says which kind of reason, the message the details."""

    def __init__(self, message: str, why: Exclusion, **kw: object) -> None:
        self.why = why
        super().__init__(message, **kw)  # type: ignore[arg-type]


def require(module: str, extra: str, purpose: str) -> object:
    """Import an optional dependency or raise :class:`MissingDependencyError` with an install hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on environment
        raise MissingDependencyError(module.split(".")[0], extra, purpose) from exc
