"""One record of every read: which stored tensor, which rows, how many stored bytes, and a sha256.

A :class:`RecordingCheckpoint` wraps a checkpoint and appends a :class:`ReadEvent` to its
:class:`ReadRecorder` each time ``read`` returns.  A model gets its own recorder when it is opened
(:class:`heredity.layouts.model.Model`); a comparison works on a *view* of each model with a fresh
recorder, so the caller's objects are never swapped or mutated, and two comparisons running at once in
two threads each see only their own reads.  A consumer takes its slice with :meth:`ReadRecorder.mark`
and :meth:`ReadRecorder.since` (each evidence test does, to report what it cost).

What is hashed: the float32 values ``read`` returned, C order, native (little-endian) bytes; shape is
not included, so ``hashlib.sha256(ckpt.read(name).tobytes())`` reproduces a digest.  ``nbytes`` is what
the rows occupy in storage (``TensorInfo.nbytes`` pro rata), not the float32 size.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from heredity.checkpoint.base import Checkpoint, TensorInfo
from heredity.stats import count_nonfinite

Rows = tuple[int, int] | None  # None: the whole tensor


@dataclass(frozen=True)
class ReadEvent:
    """One ``read`` call: stored tensor name, rows read (None: all), stored bytes, sha256 of the values,
    and how many of the values read were NaN or +-Inf."""

    tensor: str
    rows: Rows
    nbytes: int
    sha256: str
    nonfinite: int = 0


def digest(w: np.ndarray) -> str:
    """sha256 of the float32 bytes of ``w`` in C order."""
    return hashlib.sha256(np.ascontiguousarray(w, dtype=np.float32).data).hexdigest()


class ReadRecorder:
    """An append-only, thread-safe list of :class:`ReadEvent`."""

    def __init__(self) -> None:
        self._events: list[ReadEvent] = []
        self._lock = threading.Lock()

    def add(self, event: ReadEvent) -> None:
        with self._lock:
            self._events.append(event)

    def mark(self) -> int:
        """A position to take a slice from later."""
        with self._lock:
            return len(self._events)

    def since(self, mark: int = 0) -> tuple[ReadEvent, ...]:
        with self._lock:
            return tuple(self._events[mark:])


def _per_tensor(events: Iterable[ReadEvent], value: Callable[[ReadEvent], int]) -> dict[str, int]:
    """Tensor -> ``value`` summed over its distinct slices read (each (tensor, rows) counted once); a
    whole-tensor read supersedes every slice of it."""
    whole: dict[str, int] = {}
    parts: dict[str, dict[Rows, int]] = {}
    for e in events:
        if e.rows is None:
            whole[e.tensor] = value(e)
        else:
            parts.setdefault(e.tensor, {})[e.rows] = value(e)
    out = {t: sum(p.values()) for t, p in parts.items() if t not in whole}
    out.update(whole)
    return out


def unique_bytes(events: Iterable[ReadEvent]) -> int:
    """Stored bytes behind ``events``, each distinct tensor slice counted once."""
    return sum(_per_tensor(events, lambda e: e.nbytes).values())


def tensors(events: Iterable[ReadEvent]) -> tuple[str, ...]:
    """The distinct stored tensors read, sorted."""
    return tuple(sorted({e.tensor for e in events}))


def nonfinite(events: Iterable[ReadEvent]) -> dict[str, int]:
    """Stored tensor -> NaN/Inf values seen in the parts read (as :func:`unique_bytes` counts bytes);
    only tensors with any."""
    return {t: n for t, n in sorted(_per_tensor(events, lambda e: e.nonfinite).items()) if n}


def hashes(events: Iterable[ReadEvent]) -> tuple[dict[str, str], dict[str, list[list[int]]]]:
    """``(name -> digest, name -> row ranges for tensors read only in part)``.

    A tensor read whole has the digest of that read; one read in part has the digest of its rows, and
    several distinct slices are summarised by the sha256 of their digests (hex, ascending by first row)."""
    parts: dict[str, dict[Rows, str]] = {}
    for e in events:
        parts.setdefault(e.tensor, {}).setdefault(e.rows, e.sha256)
    out: dict[str, str] = {}
    partial: dict[str, list[list[int]]] = {}
    for name, seen in sorted(parts.items()):
        out[name], ranges = _summarise(seen)
        if ranges:
            partial[name] = ranges
    return out, partial


def _summarise(parts: Mapping[Rows, str]) -> tuple[str, list[list[int]]]:
    if None in parts:
        return parts[None], []
    ranges = sorted(k for k in parts if k is not None)
    if len(ranges) == 1:
        return parts[ranges[0]], [list(ranges[0])]
    combined = hashlib.sha256("".join(parts[r] for r in ranges).encode()).hexdigest()
    return combined, [list(r) for r in ranges]


class RecordingCheckpoint(Checkpoint):
    """A pass-through :class:`Checkpoint` that records every read in ``recorder``."""

    def __init__(self, inner: Checkpoint, recorder: ReadRecorder) -> None:
        self.inner = inner
        self.recorder = recorder
        self.source, self.format = inner.source, inner.format
        self.config, self.warnings = inner.config, inner.warnings

    @property
    def tensors(self) -> Mapping[str, TensorInfo]:
        return self.inner.tensors

    def info(self, name: str) -> TensorInfo:
        return self.inner.info(name)

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        w, sha, bad = self.inner.read_checked(name, rows)
        info = self.inner.info(name)
        span = _rows(info, rows)
        first = info.shape[0] if info.shape else 1
        nbytes = info.nbytes if span is None else info.nbytes * (span[1] - span[0]) // max(first, 1)
        self.recorder.add(ReadEvent(name, span, int(nbytes), sha or digest(w),
                                    count_nonfinite(w) if bad is None else bad))
        return w

    def read_blocks(self, name: str, rows: slice | None, step: int) -> Iterator[np.ndarray]:
        """``read(name, rows)`` in consecutive blocks of ``step`` rows, so the whole is never held at once;
        once the last block is out, one :class:`ReadEvent` is recorded, the very one ``read(name, rows)``
        would have recorded (the digest fed block by block), so provenance and byte counts do not
        depend on how a tensor was read."""
        info = self.inner.info(name)
        start, stop, _ = (rows or slice(None)).indices(info.shape[0] if info.shape else 0)
        h, bad = hashlib.sha256(), 0
        for lo in range(start, stop, max(1, step)):
            w = self.inner.read(name, slice(lo, min(lo + step, stop)))
            h.update(np.ascontiguousarray(w, dtype=np.float32).data)
            bad += count_nonfinite(w)
            yield w
        span = _rows(info, slice(start, stop))
        first = info.shape[0] if info.shape else 1
        nbytes = info.nbytes if span is None else info.nbytes * (span[1] - span[0]) // max(first, 1)
        self.recorder.add(ReadEvent(name, span, int(nbytes), h.hexdigest(), bad))

    def prefetch(self, requests: Sequence[tuple[str, slice | None]]) -> None:
        self.inner.prefetch(requests)  # recorded when read, not when fetched

    def close(self) -> None:
        self.inner.close()


def _rows(info: TensorInfo, rows: slice | None) -> Rows:
    """A row slice as (start, stop); None when it covers the whole first axis."""
    if rows is None:
        return None
    n = info.shape[0] if info.shape else 0
    start, stop, _ = rows.indices(n)
    return None if (start, stop) == (0, n) else (start, stop)
