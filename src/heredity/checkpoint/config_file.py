"""Read a ``config.json`` that sits beside a checkpoint, refusing anything but a small JSON object.

Why strict: the config decides which layout (and so which roles) a checkpoint gets; a config that is
silently ignored would turn a readable model into an "unknown family" one without saying why.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from heredity.errors import CorruptCheckpointError

MAX_CONFIG_BYTES = 16 << 20
CONFIG_NAME = "config.json"
_FIX = "fix or delete config.json (it must be one JSON object)"


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    """JSON has no NaN or infinity; ``1e999`` would parse as one, so it is refused too."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def read_json_object(path: Path, limit: int = MAX_CONFIG_BYTES, what: str = "file") -> dict[str, Any]:
    """Parse ``path`` as one JSON object of at most ``limit`` bytes; ``CorruptCheckpointError`` else."""
    size = path.stat().st_size
    if size > limit:
        raise CorruptCheckpointError(
            f"{what} is {size} bytes, more than the {limit} allowed", path=path, fix=_FIX
        )
    try:
        value = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CorruptCheckpointError(
            f"{what} is not valid JSON ({type(exc).__name__})", path=path, fix=_FIX
        ) from None
    if not isinstance(value, dict):
        raise CorruptCheckpointError(f"{what} is not a JSON object", path=path, fix=_FIX)
    return value


def config_beside(path: Path) -> dict[str, Any]:
    """The ``config.json`` in ``path`` (a folder) or beside it (a file); ``{}`` when there is none."""
    folder = path if path.is_dir() else path.parent
    candidate = folder / CONFIG_NAME
    if not candidate.is_file():
        return {}
    return read_json_object(candidate, what="config.json")
