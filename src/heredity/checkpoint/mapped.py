"""A checkpoint whose tensors are plain byte ranges of files: memory-mapped, read row by row.

safetensors files and llama2.c exports both store each tensor as one contiguous, row-major run of
fixed-size elements, so one class serves both.  Reading maps the file read-only and converts only
the rows asked for; nothing is read at open time.
"""

from __future__ import annotations

import contextlib
import mmap
import operator
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, Sequence, ValuesView
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from heredity.checkpoint.base import Checkpoint, TensorInfo
from heredity.checkpoint.dtypes import (
    ITEMSIZE,
    SAFETENSORS_DTYPES,
    decode_float32,
    decode_into,
    storage_dtype,
)
from heredity.checkpoint.scan import note_nonfinite
from heredity.errors import InputError, safe_name

_RELEASE_MIN = 64 << 10  # smaller reads are not worth a system call
_DECODE_BLOCK = 8 << 20  # stored bytes decoded (then released) at a time by a large read


class Span(NamedTuple):
    """One tensor's bytes: ``file[start:stop]`` holds ``shape`` elements of ``dtype`` (safetensors name).
    A named tuple, not a dataclass: a DeepSeek-V3 header makes 95,000 of them, 4x faster to build."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    start: int
    stop: int
    file: Path


def _infos(spans: Iterable[Span]) -> Iterator[TensorInfo]:
    """``TensorInfo(s.name, s.shape, s.dtype, s.stop - s.start, str(s.file))`` for each span, each
    file's path spelled once (a DeepSeek-V3 header has 95,000 spans over a few files)."""
    spelled: dict[Path, str] = {}
    for s in spans:
        file = spelled.get(s.file)
        if file is None:
            file = spelled[s.file] = str(s.file)
        yield TensorInfo(s.name, s.shape, s.dtype, s.stop - s.start, file)


_NAME = operator.itemgetter(0)  # of a Span


class _Inventory(Mapping[str, TensorInfo]):
    """name -> :class:`TensorInfo`, each made from its span when first asked for, and all at once by
    ``items()``/``values()``: laying out a 100,000-tensor header asks for a few hundred (the spans are
    all a layout needs to map the rest), and 100,000 objects that nothing asks for cost their
    making and a garbage-collector pass."""

    def __init__(self, spans: dict[str, Span]) -> None:
        self._spans = spans
        self._made: dict[str, TensorInfo] = {}

    def __getitem__(self, name: str) -> TensorInfo:
        info = self._made.get(name)
        if info is None:
            info = self._made[name] = next(_infos((self._spans[name],)))
        return info

    def __iter__(self) -> Iterator[str]:
        return iter(self._spans)

    def __len__(self) -> int:
        return len(self._spans)

    def __contains__(self, name: object) -> bool:
        return name in self._spans

    def _all(self) -> dict[str, TensorInfo]:
        if len(self._made) < len(self._spans):  # in storage order, keeping those already made
            made = dict(zip(self._spans, _infos(self._spans.values()), strict=True))
            made.update(self._made)
            self._made = made
        return self._made

    def items(self) -> ItemsView[str, TensorInfo]:
        return self._all().items()

    def values(self) -> ValuesView[TensorInfo]:
        return self._all().values()


class MappedCheckpoint(Checkpoint):
    """Tensors as validated byte ranges of files (validation is the caller's job)."""

    def __init__(self, source: Path, fmt: str, spans: Sequence[Span], config: dict[str, Any]) -> None:
        self.source = str(source)
        self.format = fmt
        self.config = config
        self.warnings: list[str] = []
        self._spans = dict(zip(map(_NAME, spans), spans, strict=True))  # {s.name: s}, at C speed
        self._inventory = _Inventory(self._spans)
        self._maps: dict[Path, mmap.mmap] = {}
        self._closed = False

    @property
    def tensors(self) -> Mapping[str, TensorInfo]:
        return self._inventory

    def _map(self, file: Path) -> mmap.mmap:
        if self._closed:
            raise InputError("checkpoint is closed", path=self.source, fix="open it again")
        if file not in self._maps:
            with open(file, "rb") as f:
                self._maps[file] = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        return self._maps[file]

    def _row_window(self, span: Span, rows: slice) -> tuple[int, tuple[int, ...], int]:
        """(byte offset, shape, step) of the contiguous block covering ``rows``."""
        if not span.shape:
            raise InputError(f"tensor '{safe_name(span.name)}' is a scalar; it has no rows", path=self.source)
        lo, hi, step = rows.indices(span.shape[0])
        if step < 0:
            raise InputError("negative row steps are not supported", path=self.source)
        hi = max(lo, hi)
        row_bytes = (span.stop - span.start) // span.shape[0] if span.shape[0] else 0
        return span.start + lo * row_bytes, (hi - lo, *span.shape[1:]), step

    def _window(self, name: str, rows: slice | None) -> tuple[Span, int, tuple[int, ...], int]:
        self.info(name)
        span = self._spans[name]
        start, shape, step = (span.start, span.shape, 1) if rows is None else self._row_window(span, rows)
        return span, start, shape, step

    def read_raw(self, name: str, rows: slice | None = None) -> np.ndarray:
        """Stored elements of ``name`` (or of some rows), unconverted: a read-only view on the map."""
        return self._view(name, rows, SAFETENSORS_DTYPES.__getitem__)

    def _view(self, name: str, rows: slice | None, dtype_of: Callable[[str], np.dtype]) -> np.ndarray:
        span, start, shape, step = self._window(name, rows)
        count = int(np.prod(shape, dtype=np.int64))
        raw = np.frombuffer(self._map(span.file), dtype=dtype_of(span.dtype), count=count, offset=start).reshape(shape)
        return raw[::step] if step != 1 else raw

    def span(self, name: str) -> Span:
        """Where tensor ``name``'s bytes lie (for readers of raw bytes, e.g. streaming statistics)."""
        self.info(name)
        if self._closed:
            raise InputError("checkpoint is closed", path=self.source, fix="open it again")
        return self._spans[name]

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        bits = self._view(name, rows, storage_dtype)  # bfloat16 as its bits: no ml_dtypes needed
        span, start, shape, step = self._window(name, rows)
        nbytes = int(np.prod(shape, dtype=np.int64)) * ITEMSIZE[span.dtype]
        if step != 1 or bits.ndim == 0 or nbytes <= _DECODE_BLOCK:
            out = decode_float32(bits, span.dtype)
            self._release(span.file, start, nbytes)
        else:  # block by block, each block's pages released once decoded: the stored bytes and the
            out = np.empty(bits.shape, np.float32)  # float32 copy are never resident in full together
            per_row = nbytes // max(bits.shape[0], 1)
            block = max(1, _DECODE_BLOCK // max(per_row, 1))
            for r in range(0, bits.shape[0], block):
                decode_into(bits[r : r + block], span.dtype, out[r : r + block])
                self._release(span.file, start + r * per_row, min(block, bits.shape[0] - r) * per_row)
        note_nonfinite(self, name, out)
        return out

    def _release(self, file: Path, start: int, length: int) -> None:
        """Unmap the pages just copied (the OS page cache keeps them), so that reading a whole model
        does not grow this process's resident set by the model's size."""
        if length < _RELEASE_MIN or not hasattr(mmap, "MADV_DONTNEED"):
            return
        lo = start - start % mmap.PAGESIZE
        self._maps[file].madvise(mmap.MADV_DONTNEED, lo, start + length - lo)

    def close(self) -> None:
        self._closed = True
        for m in self._maps.values():
            with contextlib.suppress(BufferError):  # a read_raw view is still held; it keeps the map
                m.close()
        self._maps.clear()
