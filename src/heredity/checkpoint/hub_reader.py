"""Hugging Face hub ids (``org/name[@revision]``) read without downloading whole checkpoints (extra ``hub``).

Opening fetches ``config.json``, the shard index (if any) and each safetensors header (the first
:data:`HEADER_GUESS` bytes, and the rest of the header if it is longer) -- a few kilobytes per shard,
the shards side by side.  ``read`` fetches only the byte range of the tensor asked for
(or of its rows); reads announced by :meth:`~heredity.checkpoint.base.Checkpoint.prefetch` are
fetched ahead, :data:`CONNECTIONS` at a time, so a test's many small reads cost a few round trips
instead of one each.  Headers are validated by the same parser as local files
(:mod:`heredity.checkpoint.safetensors_header`) against the size the hub reports.  Files already in
the local HF cache are read from disk; with ``HF_HUB_OFFLINE=1`` only the cache is used.
``bytes_fetched`` says how much came over the network.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from heredity.checkpoint._hub_source import ByteSource, HubRepo, RemoteFile
from heredity.checkpoint.base import Checkpoint, TensorInfo
from heredity.checkpoint.dtypes import decode_float32, storage_dtype
from heredity.checkpoint.recorder import digest
from heredity.checkpoint.safetensors_header import HeaderEntry, header_length, parse_header
from heredity.checkpoint.scan import note_nonfinite
from heredity.errors import CorruptCheckpointError, InputError, NotFoundError, require, safe_name
from heredity.stats import count_nonfinite

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"
MAX_JSON_BYTES = {"config.json": 1 << 20, INDEX: 64 << 20}
CONNECTIONS = 16  # ranged GETs in flight at once for prefetched reads (HEREDITY_HUB_CONNECTIONS overrides)
AHEAD_BYTES = 256 << 20  # reads fetched ahead and not yet read, held at once per checkpoint (as float32)
HEADER_GUESS = 64 << 10  # first read of a shard (at most 1/256 of it): length field and, most often, header


def connections() -> int:
    """How many ranged GETs a checkpoint keeps in flight when it prefetches (1: none ahead)."""
    raw = os.environ.get("HEREDITY_HUB_CONNECTIONS", "").strip()
    if not raw:
        return CONNECTIONS
    if not raw.isdigit() or not 1 <= int(raw) <= 64:
        raise InputError(f"HEREDITY_HUB_CONNECTIONS={safe_name(raw)} is not a whole number from 1 to 64",
                         fix="set it to e.g. 8, or unset it")  # fmt: skip
    return int(raw)


@dataclass
class _Ahead:
    """Bytes ``[start, stop)`` of one tensor's file (its rows from ``first``), fetched (or being fetched)
    ahead of the reads announced for it; ``held``: its decoded size; ``uses``: how many announced reads
    lie inside it and have not come yet."""

    start: int
    stop: int
    first: int
    held: int
    future: Future[_Ready]
    uses: int = 1


@dataclass(frozen=True)
class _Remote:
    """One tensor: its validated header entry and the file that holds it."""

    entry: HeaderEntry
    source: ByteSource


class HubCheckpoint(Checkpoint):
    """Tensors of a hub repo's safetensors files, fetched range by range."""

    def __init__(self, repo: HubRepo, tensors: dict[str, _Remote], config: dict[str, Any]) -> None:
        self.source = repo.label
        self.format = "hub"
        self.config = config
        self.warnings = []
        self._repo = repo
        self._remote = tensors
        self._inventory = {n: _info(r) for n, r in tensors.items()}
        self._ahead: dict[str, list[_Ahead]] = {}
        self._ahead_bytes = 0
        self._pool: ThreadPoolExecutor | None = None

    @property
    def tensors(self) -> Mapping[str, TensorInfo]:
        return self._inventory

    @property
    def bytes_fetched(self) -> int:
        """Bytes received over the network so far (headers included; cache reads excluded)."""
        return self._repo.bytes_fetched

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._ahead.clear()
        self._ahead_bytes = 0
        self._repo.close()

    def prefetch(self, requests: Sequence[tuple[str, slice | None]]) -> None:
        """Start fetching these reads, :func:`connections` at a time, in the order given; a worker also
        decodes each to float32 and takes its sha256 and NaN/Inf count, beside the caller's work.  A read
        inside one already ahead adds no request; what was fetched is let go once as many reads inside
        it have come as were announced.  Reads from the local cache, unknown names, row steps other than
        1 and anything past :data:`AHEAD_BYTES` (decoded) are not fetched ahead."""
        width = connections()
        if width < 2:
            return
        for name, rows in requests:
            remote = self._remote.get(name)
            if remote is None or not isinstance(remote.source, RemoteFile):
                continue
            span = _byte_span(remote.entry, rows)
            if span is None or span[0] == span[1]:
                continue
            if (held := self._held(name, *span)) is not None:  # served from that one (any step)
                held.uses += 1
                continue
            if rows is not None and rows.step not in (None, 1):
                continue
            size = _decoded_bytes(remote.entry, *span)
            if self._ahead_bytes + size > AHEAD_BYTES:
                break
            if self._pool is None:
                self._pool = ThreadPoolExecutor(width, thread_name_prefix="heredity-hub")
            future = self._pool.submit(_fetch_decoded, remote, span, rows)
            first = 0 if rows is None or not remote.entry.shape else rows.indices(remote.entry.shape[0])[0]
            self._ahead.setdefault(name, []).append(_Ahead(*span, first, size, future))
            self._ahead_bytes += size

    def _held(self, name: str, start: int, stop: int) -> _Ahead | None:
        return next((a for a in self._ahead.get(name, ()) if a.start <= start and stop <= a.stop), None)

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        return self.read_checked(name, rows)[0]

    def read_checked(self, name: str, rows: slice | None = None) -> tuple[np.ndarray, str | None, int | None]:
        out, sha, bad = self._read(name, rows)
        note_nonfinite(self, name, out, bad)
        return out, sha, bad

    def _read(self, name: str, rows: slice | None) -> tuple[np.ndarray, str | None, int | None]:
        self.info(name)
        e, src = self._remote[name].entry, self._remote[name].source
        span = _byte_span(e, rows)
        if span is None:
            raise InputError("negative row steps are not supported", path=self.source)
        ahead = self._held(name, *span)
        if ahead is not None and (got := self._take(name, ahead, e, rows, span)) is not None:
            return got
        return _decode(e, rows, src.read(*span)), None, None

    def _take(self, name: str, ahead: _Ahead, e: HeaderEntry, rows: slice | None,
              span: tuple[int, int]) -> tuple[np.ndarray, str | None, int | None] | None:
        """A read served from what was fetched ahead: the worker's array with its digest and count when
        it is that very read (a copy while more announced reads of it are to come), else the rows cut
        from it.  None when the fetch failed: the caller reads again, and reports the error itself."""
        ahead.uses -= 1
        if ahead.uses <= 0:
            self._ahead[name].remove(ahead)
            self._ahead_bytes -= ahead.held
        try:
            ready = ahead.future.result()
        except Exception:  # noqa: BLE001 - the same read, made again by the caller, raises the error users see
            return None
        step = 1 if rows is None or not e.shape else rows.indices(e.shape[0])[2]
        if (ahead.start, ahead.stop) == span and step == 1:
            values = ready.values if ahead.uses <= 0 else ready.values.copy()
            return values, ready.sha256, ready.nonfinite
        lo, hi, _ = (rows or slice(None)).indices(e.shape[0])
        cut = ready.values[lo - ahead.first : max(lo, hi) - ahead.first : step]
        return np.ascontiguousarray(cut).copy(), None, None


@dataclass(frozen=True)
class _Ready:
    """A read fetched ahead: its float32 values, their sha256 (as the read recorder takes it) and how
    many are NaN/Inf, all computed by the worker that fetched it."""

    values: np.ndarray
    sha256: str
    nonfinite: int


def _fetch_decoded(remote: _Remote, span: tuple[int, int], rows: slice | None) -> _Ready:
    values = _decode(remote.entry, rows, remote.source.read(*span))
    return _Ready(values, digest(values), count_nonfinite(values))


def _decode(e: HeaderEntry, rows: slice | None, blob: bytes) -> np.ndarray:
    """The float32 values of a read of ``rows`` from the bytes of :func:`_byte_span`."""
    dtype = storage_dtype(e.dtype)
    if rows is None or not e.shape:
        raw = np.frombuffer(blob, dtype=dtype).reshape(e.shape)
        return decode_float32(raw if rows is None else raw[rows], e.dtype)
    lo, hi, step = rows.indices(e.shape[0])
    raw = np.frombuffer(blob, dtype=dtype).reshape((max(lo, hi) - lo, *e.shape[1:]))
    return decode_float32(raw[::step], e.dtype)


def _decoded_bytes(e: HeaderEntry, start: int, stop: int) -> int:
    return (stop - start) // max(storage_dtype(e.dtype).itemsize, 1) * 4


def _byte_span(e: HeaderEntry, rows: slice | None) -> tuple[int, int] | None:
    """The file bytes a read of ``rows`` of this tensor fetches (every row from the first to the last
    asked for); None for negative steps."""
    if rows is None or not e.shape:
        return e.start, e.stop
    lo, hi, step = rows.indices(e.shape[0])
    if step < 0:
        return None
    hi = max(lo, hi)
    row_bytes = (e.stop - e.start) // e.shape[0] if e.shape[0] else 0
    return e.start + lo * row_bytes, e.start + hi * row_bytes


def _info(r: _Remote) -> TensorInfo:
    e = r.entry
    return TensorInfo(e.name, e.shape, e.dtype, e.stop - e.start, file=r.source.name)


def _json(repo: HubRepo, source: ByteSource) -> dict[str, Any]:
    limit = MAX_JSON_BYTES.get(source.name, 1 << 20)
    if source.size > limit:
        raise CorruptCheckpointError(f"{source.name} is {source.size} bytes, over {limit}", path=repo.label)
    try:
        value = json.loads(source.read(0, source.size).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise CorruptCheckpointError(f"{source.name} is not valid JSON", path=repo.label) from None
    if not isinstance(value, dict):
        raise CorruptCheckpointError(f"{source.name} is not a JSON object", path=repo.label)
    return value


def _header(repo: HubRepo, source: ByteSource) -> list[HeaderEntry]:
    """One ranged read of the first :data:`HEADER_GUESS` bytes (length field and, most often, the whole
    header), a second only for the rest of a longer header; validated like a local file."""
    where = f"{repo.label}/{source.name}"
    first = source.read(0, min(HEADER_GUESS, max(4096, source.size // 256), source.size))
    n = header_length(first[:8], source.size, where)
    text = first[8 : 8 + n] if 8 + n <= len(first) else first[8:] + source.read(len(first), 8 + n)
    return list(parse_header(text, source.size, where).entries)


def _shard_names(repo: HubRepo, index: dict[str, Any]) -> dict[str, str]:
    """tensor -> shard file from the index, refusing names that leave the repo or are not safetensors."""
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise CorruptCheckpointError(f"{INDEX} has no weight_map of strings", path=repo.label)
    for shard in set(weight_map.values()):
        if shard.startswith("/") or ".." in shard.split("/") or not shard.endswith(".safetensors"):
            raise CorruptCheckpointError(f"{INDEX} names a bad shard '{safe_name(shard)}'", path=repo.label)
    return weight_map


def _tensors(repo: HubRepo) -> dict[str, _Remote]:
    index = repo.open(INDEX)
    if index is None:
        single = repo.require(SINGLE)
        return {e.name: _Remote(e, single) for e in _header(repo, single)}
    weight_map = _shard_names(repo, _json(repo, index))
    shards = sorted(set(weight_map.values()))

    def opened(shard: str) -> tuple[ByteSource, list[HeaderEntry]]:
        source = repo.require(shard)
        return source, _header(repo, source)

    out: dict[str, _Remote] = {}
    with ThreadPoolExecutor(max(1, min(connections(), len(shards))), thread_name_prefix="heredity-hub") as pool:
        for shard, (source, entries) in zip(shards, pool.map(opened, shards), strict=True):  # shard order
            out |= {e.name: _Remote(e, source) for e in entries if weight_map.get(e.name) == shard}
    missing = set(weight_map) - set(out)
    if missing:
        raise CorruptCheckpointError(
            f"{len(missing)} tensors of {INDEX} are not in their shards", path=repo.label
        )
    return out


def parse_hub_id(text: str) -> tuple[str, str | None]:
    """``org/name@rev`` -> (``org/name``, ``rev``)."""
    repo_id, _, revision = text.partition("@")
    return repo_id, revision or None


def open_hub(repo_id: str, revision: str | None = None) -> HubCheckpoint:
    """Open a hub repo's safetensors weights lazily; see the module docstring for what is fetched."""
    require("huggingface_hub", "hub", "reading models from the Hugging Face hub")
    repo = HubRepo(repo_id, revision)
    try:
        config_file = repo.open("config.json")
        config = _json(repo, config_file) if config_file is not None else {}
        tensors = _tensors(repo)
        if not tensors:
            raise NotFoundError("the repo's safetensors files hold no tensors", path=repo.label)
    except BaseException:
        repo.close()  # the connections opened so far
        raise
    ckpt = HubCheckpoint(repo, tensors, config)
    if config_file is None:
        ckpt.warnings.append("no config.json in the repo; family and sizes will be inferred from shapes")
    return ckpt
