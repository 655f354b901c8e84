"""Build a :class:`Fingerprint` from a model (reads every tensor once: vectors, std, hashes).

A large matrix is read in blocks of canonical rows (:func:`heredity.evidence.features.row_blocks_of`)
and never held whole: its hash is the same sha256 fed block by block, its constant flag the same
answer (:class:`heredity.stats.ConstantScan`), its sketch the same first rows; its standard deviation is
pooled over the blocks in float64 (:func:`heredity.checkpoint.stream.chunk_stats`), which can differ
from numpy's float32 ``std`` of the whole matrix in the last digits (about 1e-7 relative).  Smaller
tensors, and storage that cannot be sliced by canonical rows (transposed, per-expert slices of fused
tensors, GGUF-permuted heads), are read whole as before.
"""

from __future__ import annotations

import numpy as np

from heredity.checkpoint.stream import EMPTY, chunk_stats
from heredity.evidence.features import (
    block_hash,
    finite_std,
    hash_array,
    read_blocks,
    role_key,
    row_blocks_of,
)
from heredity.fingerprint.model import Fingerprint
from heredity.layouts.model import Model, TensorRef, count_params
from heredity.layouts.roles import Role
from heredity.stats import ConstantScan, finite, is_constant

SKETCH_ROWS = 128  # MLP neurons kept per sketched layer
SKETCH_LAYERS = 8  # evenly spaced layers sketched (the `matching` test's default sample)
SKETCH_TOKENS = 1024  # embedding rows kept for aligning residual channels


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
        blocks = row_blocks_of(model, ref)
        if blocks is None:
            _whole(fp, model, ref, keep, hashes)
        else:
            _streamed(fp, model, ref, blocks, keep, hashes)
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


def _streamed(fp: Fingerprint, model: Model, ref: TensorRef, blocks: list[tuple[int, int]], keep: int,
              hashes: bool) -> None:
    """What :func:`_whole` computes, block by block (see the module docstring)."""
    key = role_key(*ref.key)
    digest = block_hash(model, ref, blocks)
    stats, scan, size = EMPTY, ConstantScan(), 0
    kept: list[np.ndarray] = []
    for raw in read_blocks(model, ref, blocks):
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
    if hashes:
        constant = scan.result()
        if constant is None:  # one value is the median of most chunks: count it exactly
            for raw in read_blocks(model, ref, blocks):
                scan.count(finite(raw))
            constant = scan.result()
        fp.hashes[key] = (digest.hexdigest(), size, bool(constant))


def _sketched(role: Role, layer: int | None, expert: int | None, layers: set[int]) -> bool:
    if expert is not None:
        return False
    return role == Role.EMBED or (role in (Role.MLP_GATE, Role.MLP_UP) and layer in layers)
