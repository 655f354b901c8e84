"""Non-finite values: counted on demand, and noted (not fatal) when a reader meets them.

Why not fatal: a NaN in one tensor of a fine-tuned model does not stop the other tests; the report
should still say it was seen, so readers add one warning line per affected tensor.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from heredity.checkpoint.base import Checkpoint
from heredity.errors import safe_name

CHUNK_BYTES = 2 << 20  # float32 bytes per read when scanning: small enough for malloc to reuse


def note_nonfinite(ckpt: Checkpoint, name: str, values: np.ndarray, count: int | None = None) -> None:
    """Append a warning to ``ckpt.warnings`` if ``values`` (read from tensor ``name``) has NaN/Inf
    (``count``: how many, when the caller knows already)."""
    if count is None:
        if values.dtype.kind != "f" or _surely_finite(values) or bool(np.isfinite(values).all()):
            return
        count = int(values.size - np.count_nonzero(np.isfinite(values)))
    if not count:
        return
    line = f"tensor '{safe_name(name)}' has {count} non-finite values (NaN/Inf) in the part read"
    if line not in ckpt.warnings:
        ckpt.warnings.append(line)


def _surely_finite(values: np.ndarray) -> bool:
    """Fast test by one BLAS dot: any NaN/Inf makes the sum of squares non-finite, so a finite sum
    proves every value finite (a non-finite sum may be mere overflow: the caller checks exactly)."""
    if values.dtype not in (np.float32, np.float64) or not values.flags.c_contiguous:
        return False
    flat = values.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.dot(flat, flat)))


def row_chunks(shape: tuple[int, ...], chunk_bytes: int = CHUNK_BYTES) -> list[slice | None]:
    """Row slices covering a tensor in float32 pieces of about ``chunk_bytes`` (``[None]``: read whole)."""
    if len(shape) == 0 or shape[0] == 0:
        return [None]
    row_bytes = 4 * max(1, int(np.prod(shape[1:], dtype=np.int64)))
    step = max(1, chunk_bytes // row_bytes)
    if step >= shape[0]:
        return [None]
    return [slice(i, min(i + step, shape[0])) for i in range(0, shape[0], step)]


def scan_nonfinite(ckpt: Checkpoint, names: Iterable[str] | None = None) -> dict[str, int]:
    """Count NaN/Inf values per tensor (reading in row chunks); only tensors with a count > 0 appear."""
    found: dict[str, int] = {}
    for name in ckpt.tensors if names is None else names:
        count = 0
        for rows in row_chunks(ckpt.info(name).shape):
            values = ckpt.read(name, rows=rows)
            count += int(values.size - np.count_nonzero(np.isfinite(values)))
        if count:
            found[name] = count
    return found
