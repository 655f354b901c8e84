"""Hashes of every tensor a comparison read, taken from the very arrays the tests saw.

A report is only reproducible if it says *which bytes* it judged.  Re-reading tensors after the fact
would double the I/O on large checkpoints, so :class:`HashingCheckpoint` wraps a checkpoint for the
duration of one comparison and hashes each array as ``read`` returns it.

What is hashed: the float32 values ``Checkpoint.read`` returned, C order, native (little-endian)
bytes; shape is not included, so ``hashlib.sha256(ckpt.read(name).tobytes())`` reproduces a digest.
A tensor read only in part (a row slice, one expert of a fused tensor) is hashed over the rows read;
the rows are recorded next to the digest.  Several distinct slices of one tensor are summarised by the
sha256 of their digests (hex, ascending by first row).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from heredity.checkpoint.base import Checkpoint, TensorInfo
from heredity.layouts.model import Model

Rows = tuple[int, int] | None  # None: the whole tensor


def digest(w: np.ndarray) -> str:
    """sha256 of the float32 bytes of ``w`` in C order."""
    return hashlib.sha256(np.ascontiguousarray(w, dtype=np.float32).data).hexdigest()


class HashingCheckpoint(Checkpoint):
    """A pass-through :class:`Checkpoint` that remembers a digest of each distinct read."""

    def __init__(self, inner: Checkpoint) -> None:
        self.inner = inner
        self.source, self.format = inner.source, inner.format
        self.config, self.warnings = inner.config, inner.warnings
        self.parts: dict[str, dict[Rows, str]] = {}

    @property
    def tensors(self) -> Mapping[str, TensorInfo]:
        return self.inner.tensors

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        w = self.inner.read(name, rows)
        key = self._rows(name, rows)
        seen = self.parts.setdefault(name, {})
        if key not in seen:
            seen[key] = digest(w)
        return w

    def close(self) -> None:
        self.inner.close()

    def _rows(self, name: str, rows: slice | None) -> Rows:
        """Normalise a row slice to (start, stop); None when it covers the whole first axis."""
        if rows is None:
            return None
        n = self.info(name).shape[0] if self.info(name).shape else 0
        start, stop, _ = rows.indices(n)
        return None if (start, stop) == (0, n) else (start, stop)


def summarise(parts: Mapping[Rows, str]) -> tuple[str, list[list[int]]]:
    """One digest for a tensor, and the row ranges it covers (empty list: the whole tensor)."""
    if None in parts:
        return parts[None], []
    ranges = sorted(k for k in parts if k is not None)
    if len(ranges) == 1:
        return parts[ranges[0]], [list(ranges[0])]
    combined = hashlib.sha256("".join(parts[r] for r in ranges).encode()).hexdigest()
    return combined, [list(r) for r in ranges]


def record(ckpt: HashingCheckpoint) -> tuple[dict[str, str], dict[str, list[list[int]]]]:
    """``(name -> digest, name -> row ranges for partly read tensors)``."""
    hashes: dict[str, str] = {}
    partial: dict[str, list[list[int]]] = {}
    for name, parts in sorted(ckpt.parts.items()):
        hashes[name], ranges = summarise(parts)
        if ranges:
            partial[name] = ranges
    return hashes, partial


@contextmanager
def hashing(models: Mapping[str, Model | None]) -> Iterator[dict[str, Any]]:
    """Wrap each side's checkpoint while the block runs; the yielded dict then holds
    ``tensor_sha256`` and ``tensor_rows`` (``side -> name -> ...``).  The models are restored after;
    one model on both sides is wrapped once."""
    restore: list[tuple[Model, Checkpoint]] = []
    live: dict[str, HashingCheckpoint] = {}
    for side, m in models.items():
        if m is None:
            continue
        if not isinstance(m.checkpoint, HashingCheckpoint):
            restore.append((m, m.checkpoint))
            m.checkpoint = HashingCheckpoint(m.checkpoint)
        live[side] = m.checkpoint
    out: dict[str, Any] = {}
    try:
        yield out
    finally:
        recorded = {side: record(ckpt) for side, ckpt in live.items()}
        for m, inner in restore:
            m.checkpoint = inner
        out["tensor_sha256"] = {side: r[0] for side, r in recorded.items()}
        out["tensor_rows"] = {side: r[1] for side, r in recorded.items()}
