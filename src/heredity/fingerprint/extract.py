"""Build a :class:`Fingerprint` from a model (reads every tensor once: vectors, std, hashes).

A large matrix is read in blocks of canonical rows (:data:`BLOCK_ELEMENTS` each) and never held whole:
its hash is the same sha256 fed block by block, its constant test the same answer
(:class:`heredity.stats.ConstantScan`), its sketch the same first rows; its standard deviation is
pooled over the blocks in float64 (:func:`heredity.checkpoint.stream.chunk_stats`), which can differ
from numpy's float32 ``std`` of the whole matrix in the last digits (about 1e-7 relative).  Smaller
tensors, and storage that cannot be sliced by canonical rows (transposed, per-expert slices of fused
tensors, GGUF-permuted heads), are read whole as before.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from heredity.checkpoint.stream import EMPTY, chunk_stats
from heredity.evidence.features import finite_std, hash_array, role_key
from heredity.fingerprint.model import Fingerprint
from heredity.inspect import count_params
from heredity.layouts.model import Model, TensorRef
from heredity.layouts.roles import Role
from heredity.stats import ConstantScan, finite, is_constant

SKETCH_ROWS = 128  # MLP neurons kept per sketched layer
SKETCH_LAYERS = 8  # evenly spaced layers sketched (the `matching` test's default sample)
SKETCH_TOKENS = 1024  # embedding rows kept for aligning residual channels
STREAM_ABOVE = 1 << 22  # matrices of more canonical elements than this (16 MB of float32) are read in blocks
BLOCK_ELEMENTS = 1 << 22  # canonical elements per block (at least one row)


def sketch_layers(layers: int) -> set[int]:
    from heredity.evidence.matching import sample_layers

    return {a for a, _ in sample_layers([(i, i) for i in range(layers)], SKETCH_LAYERS)}


def extract(model: Model, *, hashes: bool = True) -> Fingerprint:
    """The fingerprint of ``model``; ``hashes=False`` skips hashing (then `identical` cannot run)."""
    fp = Fingerprint(source=model.checkpoint.source, spec=model.spec,
                     keys=[role_key(*r.key) for r in model.refs],
                     params=count_params(model))
    sketched = sketch_layers(model.spec.layers)
    for ref in model.refs:
        keep = 0
        if _sketched(ref.role, ref.layer, ref.expert, sketched):
            keep = SKETCH_TOKENS if ref.role == Role.EMBED else SKETCH_ROWS
        if _streamable(model, ref):
            _streamed(fp, model, ref, keep, hashes)
        else:
            _whole(fp, model, ref, keep, hashes)
    return fp


def _whole(fp: Fingerprint, model: Model, ref: TensorRef, keep: int, hashes: bool) -> None:
    raw = model.load(ref)
    w = finite(raw)  # NaN/Inf carry no weight in what the fingerprint keeps
    key = role_key(*ref.key)
    if keep:
        fp.rows[key] = w[:keep].astype(np.float16)
    if w.ndim == 1:
        fp.vectors[key] = w.astype(np.float32)
    elif ref.layer is not None:
        fp.std.setdefault(ref.role.value, {})[ref.layer] = finite_std(raw)
    if hashes:
        fp.hashes[key] = (hash_array(raw), int(raw.size), is_constant(w))


def _streamable(model: Model, ref: TensorRef) -> bool:
    """A matrix large enough to be worth reading in row blocks, stored so that rows can be sliced."""
    shape = model.checkpoint.info(ref.name).shape
    if len(shape) < 2 or ref.transpose or ref.index is not None or ref.unpermute_heads is not None:
        return False
    return model.canonical_rows(ref) * math.prod(shape[1:]) > STREAM_ABOVE


def _blocks(model: Model, ref: TensorRef) -> list[tuple[int, int]]:
    rows = model.canonical_rows(ref)
    width = max(1, math.prod(model.checkpoint.info(ref.name).shape[1:]))
    step = max(1, BLOCK_ELEMENTS // width)
    return [(start, min(start + step, rows)) for start in range(0, rows, step)]


def _read(model: Model, ref: TensorRef, start: int, stop: int) -> np.ndarray:
    block = model.load_rows(ref, start, stop)
    assert block is not None, "checked by _streamable"
    return block


def _streamed(fp: Fingerprint, model: Model, ref: TensorRef, keep: int, hashes: bool) -> None:
    """What :func:`_whole` computes, block by block (see the module docstring)."""
    key = role_key(*ref.key)
    blocks = _blocks(model, ref)
    digest: hashlib._Hash | None = None
    stats, scan, size = EMPTY, ConstantScan(), 0
    kept: list[np.ndarray] = []
    for start, stop in blocks:
        raw = _read(model, ref, start, stop)
        if digest is None:  # the shape first, as hash_array does
            digest = hashlib.sha256(repr((model.canonical_rows(ref), *raw.shape[1:])).encode())
        if hashes:
            digest.update(raw.data)
        stats = stats.merge(chunk_stats(raw.reshape(-1).astype(np.float64)))  # finite values, as finite_std
        w = finite(raw)
        if hashes:
            scan.add(w)
        if sum(k.shape[0] for k in kept) < keep:
            kept.append(w[: keep - sum(k.shape[0] for k in kept)].astype(np.float16))
        size += raw.size
    if kept:
        fp.rows[key] = np.concatenate(kept)
    if ref.layer is not None:
        fp.std.setdefault(ref.role.value, {})[ref.layer] = stats.std if stats.count else float("nan")
    if hashes and digest is not None:
        constant = scan.result()
        if constant is None:  # one value is the median of most chunks: count it exactly
            for start, stop in blocks:
                scan.count(finite(_read(model, ref, start, stop)))
            constant = scan.result()
        fp.hashes[key] = (digest.hexdigest(), size, bool(constant))


def _sketched(role: Role, layer: int | None, expert: int | None, layers: set[int]) -> bool:
    if expert is not None:
        return False
    return role == Role.EMBED or (role in (Role.MLP_GATE, Role.MLP_UP) and layer in layers)
