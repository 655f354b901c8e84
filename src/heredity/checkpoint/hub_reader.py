"""Hugging Face hub ids (``org/name[@revision]``) read without downloading whole checkpoints (extra ``hub``).

Opening fetches ``config.json``, the shard index (if any) and each safetensors header (8 bytes,
then the header) -- a few kilobytes.  ``read`` fetches only the byte range of the tensor asked for
(or of its rows).  Headers are validated by the same parser as local files
(:mod:`heredity.checkpoint.safetensors_header`) against the size the hub reports.  Files already in
the local HF cache are read from disk; with ``HF_HUB_OFFLINE=1`` only the cache is used.
``bytes_fetched`` says how much came over the network.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from heredity.checkpoint._hub_source import ByteSource, HubRepo
from heredity.checkpoint.base import Checkpoint, TensorInfo
from heredity.checkpoint.dtypes import decode_float32, storage_dtype
from heredity.checkpoint.safetensors_header import HeaderEntry, header_length, parse_header
from heredity.checkpoint.scan import note_nonfinite
from heredity.errors import CorruptCheckpointError, InputError, NotFoundError, require, safe_name

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"
MAX_JSON_BYTES = {"config.json": 1 << 20, INDEX: 64 << 20}


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

    @property
    def tensors(self) -> Mapping[str, TensorInfo]:
        return self._inventory

    @property
    def bytes_fetched(self) -> int:
        """Bytes received over the network so far (headers included; cache reads excluded)."""
        return self._repo.bytes_fetched

    def close(self) -> None:
        self._repo.close()

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        out = self._read(name, rows)
        note_nonfinite(self, name, out)
        return out

    def _read(self, name: str, rows: slice | None) -> np.ndarray:
        self.info(name)
        e, src = self._remote[name].entry, self._remote[name].source
        dtype = storage_dtype(e.dtype)
        if rows is None or not e.shape:
            raw = np.frombuffer(src.read(e.start, e.stop), dtype=dtype).reshape(e.shape)
            return decode_float32(raw if rows is None else raw[rows], e.dtype)
        lo, hi, step = rows.indices(e.shape[0])
        if step < 0:
            raise InputError("negative row steps are not supported", path=self.source)
        hi = max(lo, hi)
        row_bytes = (e.stop - e.start) // e.shape[0] if e.shape[0] else 0
        blob = src.read(e.start + lo * row_bytes, e.start + hi * row_bytes)
        raw = np.frombuffer(blob, dtype=dtype).reshape((hi - lo, *e.shape[1:]))
        return decode_float32(raw[::step], e.dtype)


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
    """Two ranged reads: the 8-byte length, then the header; validated like a local file."""
    where = f"{repo.label}/{source.name}"
    n = header_length(source.read(0, min(8, source.size)), source.size, where)
    return list(parse_header(source.read(8, 8 + n), source.size, where).entries)


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
    out: dict[str, _Remote] = {}
    for shard in sorted(set(weight_map.values())):
        source = repo.require(shard)
        out |= {e.name: _Remote(e, source) for e in _header(repo, source) if weight_map.get(e.name) == shard}
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
    config_file = repo.open("config.json")
    config = _json(repo, config_file) if config_file is not None else {}
    tensors = _tensors(repo)
    if not tensors:
        raise NotFoundError("the repo's safetensors files hold no tensors", path=repo.label)
    ckpt = HubCheckpoint(repo, tensors, config)
    if config_file is None:
        ckpt.warnings.append("no config.json in the repo; family and sizes will be inferred from shapes")
    return ckpt
