"""What an evidence test may ask of one side of a comparison.

Tests are written against :class:`Features`, not against :class:`~heredity.layouts.model.Model`, so the
same test runs on a model (full weights, read lazily) or on a fingerprint (a few vectors and statistics).
A request a fingerprint cannot serve raises :class:`~heredity.errors.NotApplicableError` with the reason.

NaN/Inf weights are data, not errors: every array a test gets from a model has them set to 0
(:func:`heredity.stats.finite`), so they carry no weight in any statistic, and the comparison reports
how many were seen in which tensor (from the read recorder).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from heredity.checkpoint.recorder import RecordingCheckpoint
from heredity.errors import NotApplicableError
from heredity.layouts.model import Model, ModelSpec, TensorRef
from heredity.layouts.roles import Role
from heredity.results import Exclusion
from heredity.stats import ConstantScan, finite, is_constant


@dataclass(frozen=True)
class StdSample:
    """A weight matrix's standard deviation, estimated from ``rows`` of its ``of`` rows (``se``: standard
    error of the estimate from the spread between the row blocks read; 0 when every row was read)."""

    std: float
    se: float = 0.0
    rows: int = 0
    of: int = 0


@dataclass(frozen=True, eq=False)
class Wanted:
    """A read a test is about to make, announced to :meth:`Features.prefetch` so that a side read over a
    network can fetch it ahead, beside the others.  ``rows``: None for the whole tensor (``vector``,
    ``matrix``), an int ``n`` for its first ``n`` rows (``first_rows``), an index array for ``rows_at``."""

    role: Role
    layer: int | None = None
    expert: int | None = None
    rows: np.ndarray | int | None = None


@runtime_checkable
class Features(Protocol):
    """The read interface shared by :class:`ModelFeatures` and loaded fingerprints."""

    source: str
    spec: ModelSpec
    is_fingerprint: bool

    def has(self, role: Role, layer: int | None = None, expert: int | None = None) -> bool:
        """Whether the model has this canonical tensor (a fingerprint answers from its inventory)."""
        ...

    def layers_with(self, role: Role) -> list[int]: ...

    def vector(self, role: Role, layer: int | None = None) -> np.ndarray:
        """A 1-D canonical vector (norm weights, biases)."""
        ...

    def matrix(self, role: Role, layer: int | None = None, expert: int | None = None) -> np.ndarray:
        """A full canonical matrix; fingerprints raise NotApplicableError."""
        ...

    def has_rows(self, role: Role, layer: int | None = None) -> bool:
        """Whether :meth:`weight_rows` can serve this matrix (a fingerprint: only sketched ones)."""
        ...

    def weight_rows(self, role: Role, layer: int | None = None) -> np.ndarray:
        """Every canonical row this side can give: the whole matrix of a model, the sketched first rows
        of a fingerprint."""
        ...

    def first_rows(self, role: Role, layer: int | None, rows: int) -> np.ndarray | None:
        """Up to ``rows`` first canonical rows (a model reads only those), or None if unavailable."""
        ...

    def rows_at(self, role: Role, layer: int | None, index: np.ndarray, expert: int | None = None) -> np.ndarray | None:
        """Canonical rows ``index`` (any order, repeats allowed) of a matrix, reading only those rows where
        the storage allows it; None when this side cannot serve them (a fingerprint, a missing tensor)."""
        ...

    def stored_bytes(self, role: Role, layer: int | None = None, expert: int | None = None,
                     rows: int | None = None) -> int:
        """Stored bytes reading this tensor (or its first ``rows`` rows) would cost; 0 for fingerprints
        and for tensors the side lacks.  From the inventory alone."""
        ...

    def layer_std(self, role: Role, max_rows: int | None = None) -> dict[int, StdSample]:
        """Per-layer standard deviation of a weight role (for descriptive curves), from at most
        ``max_rows`` rows of each matrix (None: every row)."""
        ...

    def tensor_hashes(self) -> dict[str, tuple[str, int, bool]]:
        """``key -> (sha256 of canonical float32, numel, constant)`` for every canonical tensor."""
        ...

    def prefetch(self, wanted: Iterable[Wanted]) -> None:
        """A hint that these reads come next (a fingerprint, or a model on local disk, ignores it);
        what any read returns is the same with or without it."""
        ...

    def prefetch_std(self, roles: Iterable[Role], max_rows: int | None = None) -> None:
        """:meth:`prefetch` of every read ``layer_std(role, max_rows)`` makes, for each role."""
        ...


def role_key(role: Role, layer: int | None, expert: int | None = None) -> str:
    """Stable text key for a canonical tensor: ``role@layer[#expert]`` (``role`` for global ones)."""
    key = role.value if layer is None else f"{role.value}@{layer}"
    return key if expert is None else f"{key}#{expert}"


def parse_role_key(key: str) -> tuple[Role, int | None, int | None]:
    """Inverse of :func:`role_key`; raises ValueError on anything else."""
    body, _, expert = key.partition("#")
    role, _, layer = body.partition("@")
    return Role(role), (int(layer) if layer else None), (int(expert) if expert else None)


def hash_array(w: np.ndarray) -> str:
    """sha256 over shape and canonical float32 bytes."""
    h = hashlib.sha256(repr(tuple(w.shape)).encode())
    h.update(np.ascontiguousarray(w, dtype=np.float32).data)  # the array's own buffer: no copy of the bytes
    return h.hexdigest()


STREAM_ABOVE = 1 << 22  # canonical elements (16 MB of float32) above which a whole-tensor pass reads row blocks
BLOCK_ELEMENTS = 1 << 22  # canonical elements per row block (at least one row)


def row_blocks_of(model: Model, ref: TensorRef) -> list[tuple[int, int]] | None:
    """``[start, stop)`` canonical row blocks of about :data:`BLOCK_ELEMENTS` covering a tensor of more
    than :data:`STREAM_ABOVE` elements, or None: a smaller tensor, or storage that cannot be sliced by
    canonical rows (transposed, a per-expert slice of a fused tensor, GGUF-permuted heads): read it whole."""
    shape = model.checkpoint.info(ref.name).shape
    if len(shape) < 2 or ref.transpose or ref.index is not None or ref.unpermute_heads is not None:
        return None
    rows, width = model.canonical_rows(ref), max(1, math.prod(shape[1:]))
    if rows * width <= STREAM_ABOVE:
        return None
    step = max(1, BLOCK_ELEMENTS // width)
    return [(start, min(start + step, rows)) for start in range(0, rows, step)]


def read_blocks(model: Model, ref: TensorRef, blocks: list[tuple[int, int]]) -> Iterator[np.ndarray]:
    """The canonical float32 rows of each block of :func:`row_blocks_of`, in order (the model's recorder
    gets the one event a whole read would give: :meth:`RecordingCheckpoint.read_blocks`)."""
    assert isinstance(model.checkpoint, RecordingCheckpoint), "a Model always records its reads"
    step = blocks[0][1] - blocks[0][0] if blocks else 1
    rows = slice(*ref.rows) if ref.rows is not None else None
    for block in model.checkpoint.read_blocks(ref.name, rows, step):
        if ref.plus_one:
            block = block + np.float32(1.0)
        yield np.asarray(block, dtype=np.float32, order="C")


def block_hash(model: Model, ref: TensorRef, blocks: list[tuple[int, int]]) -> hashlib._Hash:
    """A sha256 ready for :func:`hash_array`'s input fed block by block: the canonical shape first."""
    width = model.checkpoint.info(ref.name).shape[1:]
    return hashlib.sha256(repr((model.canonical_rows(ref), *width)).encode())


def hash_blocks(model: Model, ref: TensorRef, blocks: list[tuple[int, int]]) -> tuple[str, int, bool]:
    """``(hash_array(w), w.size, is_constant(w))`` of the canonical tensor ``w``, read in row blocks and
    never whole (:class:`heredity.stats.ConstantScan`; a second pass only for a mostly constant one)."""
    digest, scan, size = block_hash(model, ref, blocks), ConstantScan(), 0
    for raw in read_blocks(model, ref, blocks):
        digest.update(raw.data)
        scan.add(raw)
        size += raw.size
    constant = scan.result()
    if constant is None:
        for raw in read_blocks(model, ref, blocks):
            scan.count(raw)
        constant = scan.result()
    return digest.hexdigest(), size, bool(constant)


class ModelFeatures:
    """:class:`Features` over a :class:`Model`: reads lazily, caches only small vectors."""

    is_fingerprint = False

    def __init__(self, model: Model) -> None:
        self.model = model
        self.spec = model.spec
        self.source = model.checkpoint.source
        self._vectors: dict[str, np.ndarray] = {}
        self._hashes: dict[str, tuple[str, int, bool]] | None = None

    def has(self, role: Role, layer: int | None = None, expert: int | None = None) -> bool:
        return self.model.has(role, layer, expert)

    def layers_with(self, role: Role) -> list[int]:
        return self.model.layers_with(role)

    def vector(self, role: Role, layer: int | None = None) -> np.ndarray:
        key = role_key(role, layer)
        if key not in self._vectors:
            self._vectors[key] = finite(self.model.get(role, layer).ravel())
        return self._vectors[key]

    def matrix(self, role: Role, layer: int | None = None, expert: int | None = None) -> np.ndarray:
        return finite(self.model.get(role, layer, expert))

    def has_rows(self, role: Role, layer: int | None = None) -> bool:
        return self.model.has(role, layer)

    def weight_rows(self, role: Role, layer: int | None = None) -> np.ndarray:
        return finite(self.model.get(role, layer))

    def first_rows(self, role: Role, layer: int | None, rows: int) -> np.ndarray | None:
        return self.read_rows(role_key(role, layer), rows) if self.model.has(role, layer) else None

    def rows_at(self, role: Role, layer: int | None, index: np.ndarray, expert: int | None = None) -> np.ndarray | None:
        if not self.model.has(role, layer, expert):
            return None
        ref = self.model.ref(role, layer, expert)
        n = self.model.canonical_rows(ref)
        wanted, inverse = np.unique(np.asarray(index, dtype=np.int64), return_inverse=True)
        if not wanted.size or wanted[0] < 0 or wanted[-1] >= n:
            raise ValueError(f"rows_at: empty index or one out of range for {n} rows")
        parts = []
        for start, stop in runs(wanted):
            block = self.model.load_rows(ref, start, stop)
            if block is None:  # storage that cannot be sliced by canonical rows: read it whole once
                return finite(self.model.load(ref)[wanted][inverse])
            parts.append(block)
        return finite(np.concatenate(parts)[inverse])

    def stored_bytes(self, role: Role, layer: int | None = None, expert: int | None = None,
                     rows: int | None = None) -> int:
        if not self.model.has(role, layer, expert):
            return 0
        ref = self.model.ref(role, layer, expert)
        info = self.model.checkpoint.info(ref.name)
        first = max(info.shape[0], 1) if info.shape else 1
        n = info.nbytes
        if ref.index is not None:
            n //= first
            first = max(info.shape[1], 1) if len(info.shape) > 1 else 1
        canonical = (ref.rows[1] - ref.rows[0]) if ref.rows is not None else None
        if ref.rows is not None and not ref.transpose:
            n = n * canonical // first  # type: ignore[operator]
        if rows is not None and not ref.transpose and ref.index is None and ref.unpermute_heads is None:
            n = n * min(rows, canonical or first) // (canonical or first)
        return int(n)

    def prefetch(self, wanted: Iterable[Wanted]) -> None:
        requests: list[tuple[str, slice | None]] = []
        for w in wanted:
            if not self.model.has(w.role, w.layer, w.expert):
                continue
            ref = self.model.ref(w.role, w.layer, w.expert)
            if w.rows is None:
                if role_key(w.role, w.layer) not in self._vectors or w.expert is not None:
                    requests.append(self.model.load_request(ref))
            elif isinstance(w.rows, int):
                requests.append(_first_rows_request(ref, w.rows))
            else:
                spans = [self.model.rows_request(ref, a, b) for a, b in runs(np.unique(np.asarray(w.rows)))]
                requests.extend(x for x in spans if x is not None)
                if None in spans:
                    requests.append(self.model.load_request(ref))
        self.model.prefetch(requests)

    def prefetch_std(self, roles: Iterable[Role], max_rows: int | None = None) -> None:
        self.prefetch(Wanted(role, layer, rows=None if max_rows is None else
                             _block_index(self.model.canonical_rows(self.model.ref(role, layer)), max_rows))
                      for role in roles for layer in self.layers_with(role))

    def layer_std(self, role: Role, max_rows: int | None = None) -> dict[int, StdSample]:
        return {layer: self._std(self.model.ref(role, layer), max_rows) for layer in self.layers_with(role)}

    def _std(self, ref: TensorRef, max_rows: int | None) -> StdSample:
        n = self.model.canonical_rows(ref)
        if max_rows is None or n <= max_rows:
            return StdSample(finite_std(self.model.load(ref)), 0.0, n, n)
        blocks = [self.model.load_rows(ref, start, start + size) for start, size in row_blocks(n, max_rows)]
        if any(b is None for b in blocks):  # this storage cannot be sliced by canonical rows
            return StdSample(finite_std(self.model.load(ref)), 0.0, n, n)
        from heredity.checkpoint.stream import chunk_stats  # (not at start-up: sampled reads only)

        parts = [b for b in blocks if b is not None]
        moments = [chunk_stats(b.reshape(-1)) for b in parts]  # one pass per block; the whole by merging
        stds = np.array([m.std if m.count else np.nan for m in moments])
        se = float(np.std(stds, ddof=1) / np.sqrt(len(stds))) if len(stds) > 1 else 0.0
        whole = moments[0]
        for m in moments[1:]:
            whole = whole.merge(m)
        return StdSample(whole.std if whole.count else float("nan"), se, sum(b.shape[0] for b in parts), n)

    def tensor_hashes(self) -> dict[str, tuple[str, int, bool]]:
        if self._hashes is None:
            self._hashes = {}
            for ref in self.model.refs:
                blocks = row_blocks_of(self.model, ref)
                if blocks is None:
                    w = self.model.load(ref)
                    self._hashes[role_key(*ref.key)] = (hash_array(w), int(w.size), is_constant(w))
                else:
                    self._hashes[role_key(*ref.key)] = hash_blocks(self.model, ref, blocks)
        return self._hashes

    def tensor_keys(self) -> list[str]:
        """Every canonical tensor key, without reading anything."""
        return [role_key(*r.key) for r in self.model.refs]

    def numel(self, key: str) -> int:
        """Element count of a canonical tensor, from the inventory alone."""
        ref = self.model.ref(*parse_role_key(key))
        info = self.model.checkpoint.info(ref.name)
        n = info.numel
        if ref.index is not None:
            n //= max(info.shape[0], 1)
        if ref.rows is not None:
            n = n * (ref.rows[1] - ref.rows[0]) // max(info.shape[1 if ref.transpose else 0], 1)
        return n

    def read_rows(self, key: str, rows: int) -> np.ndarray:
        """The first ``rows`` canonical rows (a cheap pre-filter before hashing a whole tensor)."""
        ref = self.model.ref(*parse_role_key(key))
        if not _plain(ref):
            return finite(self.model.load(ref)[:rows])
        w = self.model.checkpoint.read(ref.name, rows=slice(0, rows))
        return finite(np.ascontiguousarray(w, dtype=np.float32))


def _plain(ref: TensorRef) -> bool:
    """Whether canonical rows are stored rows as they are (no expert index, slice, transpose, +1 or
    head permutation), so the first rows can be read alone."""
    return (ref.index is None and ref.rows is None and not ref.transpose and not ref.plus_one
            and ref.unpermute_heads is None)


def _first_rows_request(ref: TensorRef, rows: int) -> tuple[str, slice | None]:
    """The stored read behind :meth:`ModelFeatures.read_rows`: the first rows alone where the storage
    is plain, else the one read :meth:`Model.load` makes."""
    return (ref.name, slice(0, rows)) if _plain(ref) else Model.load_request(ref)


def _block_index(n: int, max_rows: int) -> np.ndarray | None:
    """Every row :meth:`ModelFeatures._std` reads of an ``n``-row matrix (None: it reads it whole)."""
    if n <= max_rows:
        return None
    return np.concatenate([np.arange(start, start + size) for start, size in row_blocks(n, max_rows)])


ROW_BLOCKS = 4  # a sampled matrix is read as this many evenly spaced blocks of rows


def row_blocks(n: int, max_rows: int, blocks: int = ROW_BLOCKS) -> list[tuple[int, int]]:
    """``(start, size)`` of evenly spaced row blocks covering ``max_rows`` of ``n`` rows."""
    k = max(1, min(blocks, max_rows))
    size = max(1, max_rows // k)
    if k == 1:
        return [((n - size) // 2, size)]
    return [(round(i * (n - size) / (k - 1)), size) for i in range(k)]


def runs(sorted_index: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` of each run of consecutive values in a sorted, repeat-free index array."""
    if sorted_index.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(sorted_index) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [sorted_index.size]])
    return [(int(sorted_index[i]), int(sorted_index[j - 1]) + 1) for i, j in zip(starts, stops, strict=True)]


def finite_std(w: np.ndarray) -> float:
    """Standard deviation over the finite values (NaN when there are none)."""
    ok = np.isfinite(w)
    if ok.all():
        return float(np.std(w))
    return float(np.std(w[ok])) if ok.any() else float("nan")


def require_weights(f: Features, what: str) -> None:
    """Raise NotApplicableError when ``f`` is a fingerprint and a test needs full weights."""
    if f.is_fingerprint:
        raise NotApplicableError(f"{what} needs full weights; a fingerprint holds only vectors and statistics",
                                 Exclusion.FINGERPRINT)
