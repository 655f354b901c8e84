"""Streaming statistics of whole tensors: count, mean, sum of squared deviations, NaN and Inf counts.

Why a separate path from ``Checkpoint.read``: a full scan (every tensor of a model, e.g. per-tensor
std or a NaN/Inf census) is bound by converting stored elements to float32, not by reading them.
Here a tensor's bytes are read sequentially from a map of its own (threads share nothing but the
GIL; each chunk's pages are released once used, so the resident set stays at a few MB) in chunks
of 2^18 elements (the float32 chunk, 1 MB, stays in a core's L2 cache between decoding and the two
sums, where 2^20 went to L3 and back three times; docs/LOG.md), and
bfloat16 is never converted element by element: a bf16 value is the upper half of a float32, so a
pair of bf16 elements read as one ``uint32`` word gives both values with one mask (the high element)
and one shift (the low element).  The order of elements does not matter to these statistics.

Per chunk: the float32 sum and sum of squares (``einsum`` and a BLAS dot product: each one pass, no
ones vector to stream beside the chunk, and no BLAS thread pool started); the chunks are pooled in float64, each centred on its own mean (Chan et al.'s update).  A chunk whose variance is small next to its
mean squared is centred and summed again, so norms (mean about 1) keep their precision; a chunk with
a non-finite sum is recounted exactly (NaN and Inf counted, the finite values kept).

Other readers (GGUF, PyTorch, ONNX, hub) and other stored types fall back to ``read`` in row chunks,
with the same per-chunk arithmetic.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from heredity.checkpoint.base import Checkpoint
from heredity.checkpoint.mapped import MappedCheckpoint, Span
from heredity.checkpoint.scan import row_chunks
from heredity.errors import CorruptCheckpointError, safe_name

# float32 elements per streamed chunk: 1 MB, decoded and summed while in L2 (2 MB per core here).  One
# thread, 0.92 GB: 2^20 0.36-0.41 s, 2^18 0.26, 2^17 0.21-0.23, 2^16 0.20-0.25; two threads: all
# 0.19-0.26 (smaller chunks mean more numpy calls, whose GIL hand-overs the two threads wait on); LOG.md
CHUNK_ELEMENTS = 1 << 18
READ_ELEMENTS = 1 << 22  # elements per read() of the fallback path (each read may be a network request)
DROP_BYTES = 8 << 20  # release mapped pages every 8 MB read (a system call per chunk costs 15 %)
_LOCAL = threading.local()  # each thread's chunk buffer, kept between tensors
_FLAT = {"BF16", "F32", "F16"}  # stored types streamed from raw bytes; others go through read()


@dataclass(frozen=True, slots=True)
class TensorStats:
    """Statistics of one tensor's finite elements, plus how many were not finite."""

    count: int  # finite elements
    mean: float
    m2: float  # sum of squared deviations from the mean: variance = m2 / count
    nan_count: int
    inf_count: int

    @property
    def std(self) -> float:
        """Population standard deviation of the finite elements (0.0 when there are none)."""
        return math.sqrt(max(self.m2, 0.0) / self.count) if self.count else 0.0

    def merge(self, other: TensorStats) -> TensorStats:
        """The statistics of both parts together (Chan et al.'s update)."""
        n = self.count + other.count
        if n == 0:
            return TensorStats(0, 0.0, 0.0, self.nan_count + other.nan_count, self.inf_count + other.inf_count)
        delta = other.mean - self.mean
        mean = self.mean + delta * other.count / n
        m2 = self.m2 + other.m2 + delta * delta * self.count * other.count / n
        return TensorStats(n, mean, m2, self.nan_count + other.nan_count, self.inf_count + other.inf_count)


EMPTY = TensorStats(0, 0.0, 0.0, 0, 0)


def stream_stats(ckpt: Checkpoint, name: str) -> TensorStats:
    """Count, mean, m2, NaN and Inf counts of every element of tensor ``name``, read once."""
    info = ckpt.info(name)
    if isinstance(ckpt, MappedCheckpoint) and info.dtype in _FLAT:
        return _stream_span(ckpt.span(name), ckpt.source)
    total = EMPTY
    for rows in row_chunks(info.shape, READ_ELEMENTS):
        total = total.merge(chunk_stats(ckpt.read(name, rows=rows).reshape(-1)))
    return total


def stream_all(ckpt: Checkpoint, names: Iterable[str] | None = None, threads: int = 2) -> dict[str, TensorStats]:
    """:func:`stream_stats` of many tensors (default: all), spread over ``threads`` threads (numpy and
    BLAS release the GIL; each raw stream reads through its own file handle)."""
    todo = list(ckpt.tensors if names is None else names)
    streamed = [n for n in todo if isinstance(ckpt, MappedCheckpoint) and ckpt.info(n).dtype in _FLAT]
    found: dict[str, TensorStats] = {}
    if threads > 1 and len(streamed) > 1:  # readers' own read() need not be thread-safe: only raw streams
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            found = dict(zip(streamed, pool.map(lambda n: stream_stats(ckpt, n), streamed), strict=True))
    return {n: found[n] if n in found else stream_stats(ckpt, n) for n in todo}


def chunk_stats(values: np.ndarray) -> TensorStats:
    """Statistics of a 1-D float32 (or float64) chunk; exact counting when anything is not finite."""
    n = values.size
    if n == 0:
        return EMPTY
    if values.dtype != np.float32:
        values = values.astype(np.float64, copy=False)
    with np.errstate(over="ignore", invalid="ignore"):
        total, squares = _sum(values), float(np.dot(values, values))
    if not (math.isfinite(total) and math.isfinite(squares)):
        return _nonfinite_stats(values)
    mean = total / n
    m2 = squares - total * mean
    if m2 < 0.5 * squares:  # variance small next to mean^2: the subtraction lost digits; centre first
        centred = values - values.dtype.type(mean)
        shift = _sum(centred)
        m2 = float(np.dot(centred, centred)) - shift * shift / n
        mean += shift / n
    return TensorStats(n, mean, max(m2, 0.0), 0, 0)


def _sum(values: np.ndarray) -> float:
    """Sum of a 1-D chunk in one vectorised pass (``einsum``: as fast as a BLAS dot against ones,
    2-3x faster than ``ndarray.sum``'s pairwise loop, and nothing else to read)."""
    return float(np.einsum("i->", values))


def _nonfinite_stats(values: np.ndarray) -> TensorStats:
    nan = int(np.count_nonzero(np.isnan(values)))
    inf = int(np.count_nonzero(np.isinf(values)))
    finite = values[np.isfinite(values)].astype(np.float64)
    if finite.size == 0:
        return TensorStats(0, 0.0, 0.0, nan, inf)
    mean = float(finite.mean())
    return TensorStats(int(finite.size), mean, float(np.sum((finite - mean) ** 2)), nan, inf)


def _stream_span(span: Span, source: str) -> TensorStats:
    """Stream one tensor's bytes from a private read-only map of its file, chunk by chunk; each
    chunk's pages are dropped from this process once used (the page cache keeps them), so the
    resident set does not grow with the tensor."""
    nbytes = span.stop - span.start
    if nbytes == 0:
        return EMPTY
    with open(span.file, "rb") as f:
        if f.seek(0, 2) < span.stop:
            raise CorruptCheckpointError(
                f"tensor '{safe_name(span.name)}' ends past the end of the file",
                path=source, fix="the file was truncated after opening; re-download it",
            )  # fmt: skip
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            return _stream_map(mm, span)
    finally:
        with contextlib.suppress(BufferError):
            mm.close()


def _buffer() -> np.ndarray:
    """This thread's float32 chunk buffer (allocated once per thread)."""
    held = getattr(_LOCAL, "buffer", None)
    if held is None or held.size != CHUNK_ELEMENTS:
        held = _LOCAL.buffer = np.empty(CHUNK_ELEMENTS, np.float32)
    return held


def _stream_map(mm: mmap.mmap, span: Span) -> TensorStats:
    buf = _buffer()
    itemsize = 2 if span.dtype in ("BF16", "F16") else 4
    step = CHUNK_ELEMENTS * itemsize  # bytes per chunk (a multiple of 4 and of the page size)
    counts: list[int] = []
    sums: list[float] = []
    squares: list[float] = []
    exact = EMPTY  # chunks that needed the careful path
    start = dropped = span.start
    if span.dtype == "BF16" and start % 4:  # words must be 4-aligned: the first element alone
        exact = chunk_stats(_decode(mm, start, 2, span.dtype, buf).copy())
        start += 2
    for lo in range(start, span.stop, step):
        hi = min(lo + step, span.stop)
        values = _decode(mm, lo, hi - lo, span.dtype, buf)
        # (never a matrix-vector product: BLAS starts a thread pool of its own for one this size,
        # which then fights these threads)
        n = values.size
        total, sq = _sum(values), float(np.dot(values, values))
        if math.isfinite(total) and math.isfinite(sq) and sq - total * total / n >= 0.5 * sq:
            counts.append(n)
            sums.append(total)
            squares.append(sq)
        else:  # non-finite values, or a mean large next to the spread: recount exactly
            exact = exact.merge(chunk_stats(values))
        if hi - dropped >= DROP_BYTES or hi == span.stop:
            _drop(mm, dropped, hi)
            dropped = hi
    return _combine(counts, sums, squares).merge(exact)


def _combine(counts: list[int], sums: list[float], squares: list[float]) -> TensorStats:
    """Pool chunks given as (count, sum, sum of squares), each centred on its own mean first."""
    if not counts:
        return EMPTY
    n, s, sq = np.array(counts, np.float64), np.array(sums), np.array(squares)
    means = s / n
    total = float(n.sum())
    mean = float(s.sum() / total)
    m2 = float(np.sum(sq - s * means) + np.sum(n * (means - mean) ** 2))
    return TensorStats(int(total), mean, max(m2, 0.0), 0, 0)


def _drop(mm: mmap.mmap, lo: int, hi: int) -> None:
    """Release the whole pages of ``[lo, hi)`` from this process's resident set."""
    first = -(-lo // mmap.PAGESIZE) * mmap.PAGESIZE
    last = hi - hi % mmap.PAGESIZE
    if last - first >= mmap.PAGESIZE and hasattr(mmap, "MADV_DONTNEED"):
        mm.madvise(mmap.MADV_DONTNEED, first, last - first)


def _decode(mm: mmap.mmap, offset: int, nbytes: int, dtype: str, buf: np.ndarray) -> np.ndarray:
    """``nbytes`` stored at ``offset`` as float32 values: a view on the map (F32) or on ``buf``
    (bf16 order is not kept: the high elements of each word come first)."""
    if dtype == "F32":
        return np.frombuffer(mm, np.float32, count=nbytes // 4, offset=offset)
    count = nbytes // 2
    if dtype == "F16":
        out = buf[:count]
        np.copyto(out, np.frombuffer(mm, np.float16, count=count, offset=offset))
        return out
    words = np.frombuffer(mm, np.uint32, count=count // 2, offset=offset)
    bits = buf.view(np.uint32)
    np.bitwise_and(words, 0xFFFF0000, out=bits[: words.size])  # the high (odd) elements
    np.left_shift(words, 16, out=bits[words.size : 2 * words.size])  # the low (even) elements
    if count % 2:  # an odd element count: the last element sits alone
        last = np.frombuffer(mm, np.uint16, count=1, offset=offset + nbytes - 2)
        bits[2 * words.size] = np.uint32(last[0]) << np.uint32(16)
    return buf[:count]
