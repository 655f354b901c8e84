"""safetensors reader: one file, or a folder sharded by ``model.safetensors.index.json``.

The inventory comes from headers alone (validated by :mod:`safetensors_header`).  Each file is
memory-mapped read-only; ``read(name, rows=...)`` touches only the bytes of the rows asked for.
The index is hostile input too: every shard it names must be a plain relative path that stays
inside the folder (no absolute paths, no ``..``, no symlink leading out).
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from heredity.checkpoint._gc import gc_paused
from heredity.checkpoint.config_file import config_beside
from heredity.checkpoint.mapped import MappedCheckpoint, Span
from heredity.checkpoint.safetensors_header import Make, read_entries
from heredity.checkpoint.shard_index import INDEX_FIX, read_weight_map, shard_path
from heredity.errors import CorruptCheckpointError, NotFoundError, safe_name

INDEX_NAME = "model.safetensors.index.json"


_make_span: Make[Span] = partial(tuple.__new__, Span)  # Span._make without a Python call per tensor


def _spans_of(file: Path) -> list[Span]:
    """The file's validated header entries as spans (a Span is a HeaderEntry and its file)."""
    size = file.stat().st_size
    with open(file, "rb") as f:
        return read_entries(f, size, file, _make_span, (file,))


def open_safetensors(path: str | os.PathLike[str]) -> MappedCheckpoint:
    """Open a ``.safetensors`` file, a folder with ``model.safetensors.index.json``, or that index file."""
    p = Path(path)
    if not p.exists():
        raise NotFoundError("no such file or folder", path=p)
    with gc_paused():
        if p.is_dir() or p.name.endswith(".index.json"):
            index = p / INDEX_NAME if p.is_dir() else p
            return _open_sharded(index)
        spans = _spans_of(p)
        return MappedCheckpoint(p, "safetensors", spans, config_beside(p))


def _open_sharded(index: Path) -> MappedCheckpoint:
    if not index.is_file():
        raise NotFoundError(f"no {INDEX_NAME} in the folder", path=index.parent)
    folder = index.parent
    weight_map = read_weight_map(index)
    shards = {f: shard_path(folder, f, index) for f in sorted(set(weight_map.values()))}
    by_shard: dict[str, list[str]] = {}  # one pass: a 163-shard index of 91k names is not 163 passes
    for name, fname in weight_map.items():
        by_shard.setdefault(fname, []).append(name)
    spans: list[Span] = []
    order: list[tuple[str, int]] = []  # (file, start): storage order across the shards
    for fname, shard in shards.items():
        headers = {s.name: s for s in _spans_of(shard)}
        spelled = str(shard)
        for name in by_shard[fname]:
            if name not in headers:
                raise CorruptCheckpointError(
                    f"index lists tensor '{safe_name(name)}' in {safe_name(fname)}, which lacks it",
                    path=index,
                    fix=INDEX_FIX,
                )
            span = headers[name]
            spans.append(span)
            order.append((spelled, span.start))
    spans = list(map(spans.__getitem__, sorted(range(len(spans)), key=order.__getitem__)))
    return MappedCheckpoint(folder, "safetensors", spans, config_beside(folder))
