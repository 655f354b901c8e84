"""`identical`: canonical tensors that are bit-for-bit the same in both models.

Hashes are taken over the canonical float32 tensor (so a renamed, re-sharded or re-serialised copy still
matches) and compared regardless of position (so moved layers still match).  Constant tensors (all-ones
norms, zero biases) are identical in any two fresh models of one config and are skipped.

On two models (not fingerprints) only tensors whose shapes occur on both sides are considered, and a
tensor is hashed in full only when its first row already matches a first row on the other side, so an
unrelated pair costs one row per tensor.

The p-value is a bound, not an exact null: a non-constant tensor with ``k`` distinct values repeated
bit-for-bit by an independent run is taken to have probability at most ``2**-k`` (each value carries
at least one bit that independent training does not reproduce).  Any large shared tensor is decisive.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from heredity.evidence.base import EvidenceTest, ReadItem, ReadPlan
from heredity.evidence.features import (
    Features,
    ModelFeatures,
    Wanted,
    block_hash,
    hash_array,
    parse_role_key,
    read_blocks,
    row_blocks_of,
)
from heredity.layouts.model import Model, TensorRef
from heredity.results import Evidence, Power
from heredity.stats import P_FLOOR

DECISIVE_NUMEL = 4096  # a shared non-constant tensor at least this large is decisive on its own


Hashed = dict[str, tuple[str, int, bool, int]]  # key -> (sha256, numel, constant, distinct values)


DISTINCT_CAP = 1 << 16  # distinct values are counted exactly up to this many (the p-value uses at most 1000 bits)


def _full_hashes(f: Features, keys: list[str]) -> Hashed:
    if isinstance(f, ModelFeatures):
        out = {}
        for key in keys:
            ref = f.model.ref(*parse_role_key(key))
            blocks = row_blocks_of(f.model, ref)
            out[key] = _digest(f.model.load(ref)) if blocks is None else _block_digest(f.model, ref, blocks)
        return out
    all_hashes = f.tensor_hashes()  # fingerprints: numel stands in for the distinct count
    return {k: (*all_hashes[k], all_hashes[k][1]) for k in keys if k in all_hashes}


def _digest(w: np.ndarray) -> tuple[str, int, bool, int]:
    """(sha256, numel, constant, distinct values) of a whole canonical tensor."""
    values, counts = np.unique(w, return_counts=True)
    constant = values.size < 3 or counts.max() >= 0.9 * w.size  # same rule as stats.is_constant
    return hash_array(w), int(w.size), bool(constant), int(values.size)


def _block_digest(model: Model, ref: TensorRef, blocks: list[tuple[int, int]]) -> tuple[str, int, bool, int]:
    """:func:`_digest` of a large tensor read in row blocks, never whole: the same sha256 and constant
    flag; the distinct count is exact up to :data:`DISTINCT_CAP` and a lower bound above it (the same
    p-value either way).  Past the cap, a value covering 90 % of the entries is the majority of blocks
    holding at least 80 % of them (each other block is at least half other values, of which there
    are at most 10 %), so only such a value is counted exactly, in a second pass (rare)."""
    digest = block_hash(model, ref, blocks)
    size = 0
    seen: tuple[np.ndarray, np.ndarray] | None = (np.zeros(0, np.float32), np.zeros(0, np.int64))
    distinct = 0
    majority: dict[float | None, int] = {}  # value (None: NaN) -> elements of the blocks it is the majority of
    for block in read_blocks(model, ref, blocks):
        digest.update(block.data)
        size += block.size
        values, counts = np.unique(block, return_counts=True)
        top = int(np.argmax(counts))
        if 2 * int(counts[top]) > block.size:
            majority[_key(values[top])] = majority.get(_key(values[top]), 0) + block.size
        if seen is not None:
            merged, where = np.unique(np.concatenate([seen[0], values]), return_inverse=True)
            tally = np.bincount(where, weights=np.concatenate([seen[1], counts]), minlength=merged.size)
            seen = (merged, tally.astype(np.int64)) if merged.size <= DISTINCT_CAP else None
            distinct = int(merged.size)
    if seen is not None:
        return digest.hexdigest(), size, bool(distinct < 3 or seen[1].max() >= 0.9 * size), distinct
    value, weight = max(majority.items(), key=lambda kv: kv[1], default=(0.0, 0))
    constant = False
    if weight >= 0.8 * size:
        hits = sum(int(np.count_nonzero(np.isnan(b) if value is None else b == value))
                   for b in read_blocks(model, ref, blocks))
        constant = hits >= 0.9 * size
    return digest.hexdigest(), size, constant, distinct


def _key(v: np.floating) -> float | None:
    return None if np.isnan(v) else float(v)


def _shapes(f: Features) -> dict[str, int]:
    if isinstance(f, ModelFeatures):
        return {k: f.numel(k) for k in f.tensor_keys()}
    return {k: v[1] for k, v in f.tensor_hashes().items()}


def candidate_keys(a: Features, b: Features) -> tuple[list[str], list[str]]:
    """Keys on each side worth hashing: equal element counts, and (for models) equal first rows."""
    na, nb = _shapes(a), _shapes(b)
    common = set(na.values()) & set(nb.values())
    ka = [k for k, n in na.items() if n in common and n > 1]
    kb = [k for k, n in nb.items() if n in common and n > 1]
    if isinstance(a, ModelFeatures) and isinstance(b, ModelFeatures):
        a.prefetch(Wanted(*parse_role_key(k), rows=1) for k in ka)
        b.prefetch(Wanted(*parse_role_key(k), rows=1) for k in kb)
        ra = {k: hash_array(a.read_rows(k, 1)) for k in ka}
        rb = {k: hash_array(b.read_rows(k, 1)) for k in kb}
        shared = set(ra.values()) & set(rb.values())
        ka = [k for k in ka if ra[k] in shared]
        kb = [k for k in kb if rb[k] in shared]
    return ka, kb


class IdenticalTest(EvidenceTest):
    """Bit-identical non-constant canonical tensors shared by both models."""

    name = "identical"
    compares = "byte-identical tensors (sha256)"

    def reads(self, a: Features, b: Features) -> ReadPlan:
        """The first row of every tensor of a size both sides have; a tensor is then read whole only
        when that row matches (not known in advance, so the declaration is a lower bound)."""
        if not (isinstance(a, ModelFeatures) and isinstance(b, ModelFeatures)):
            return ReadPlan(note="fingerprints: hashes are in the fingerprint")
        na, nb = _shapes(a), _shapes(b)
        common = set(na.values()) & set(nb.values())
        return ReadPlan(_first_rows(na, common), _first_rows(nb, common),
                        note="first rows only; tensors whose first row matches are then read whole")

    def run(self, a: Features, b: Features) -> Evidence:
        ka, kb = candidate_keys(a, b)
        ha, hb = _full_hashes(a, ka), _full_hashes(b, kb)
        by_hash: dict[str, list[str]] = defaultdict(list)
        for k, (h, _, const, _) in hb.items():
            if not const:
                by_hash[h].append(k)
        shared = {k: by_hash[h] for k, (h, _, const, _) in ha.items() if not const and h in by_hash}
        total = sum(_shapes(a).values())
        shared_numel = sum(ha[k][1] for k in shared)
        constant = sorted(k for k, v in ha.items() if v[2])
        return self._result(shared, ha, shared_numel, total, constant)

    def _result(self, shared: dict[str, list[str]], ha: Hashed, shared_numel: int, total: int,
                constant: list[str]) -> Evidence:
        fraction = shared_numel / total if total else 0.0
        largest = max((ha[k][1] for k in shared), default=0)
        bits = sum(ha[k][3] for k in shared)
        p = 1.0 if not shared else max(P_FLOOR, float(2.0 ** -min(bits, 1000)))
        decisive = largest >= DECISIVE_NUMEL
        summary = (f"{len(shared)} non-constant tensors bit-identical ({fraction:.1%} of A's parameters"
                   f"{'; decisive' if decisive else ''})" if shared else
                   "no non-constant tensor is bit-identical")
        power = Power(False, f"any shared non-constant tensor of {DECISIVE_NUMEL}+ values is decisive; "
                             "silence says nothing about weights that were changed at all")
        return self.evidence(
            fraction, p, summary, power=power, shared={k: v[:5] for k, v in sorted(shared.items())},
            shared_count=len(shared), shared_params=shared_numel, params=total, largest_shared=largest,
            decisive=decisive, constant_skipped=constant[:100], constant_skipped_count=len(constant),
            p_value_method="bound 2^-k, k = distinct values in the shared tensors",
        )


def _first_rows(numel: dict[str, int], common: set[int]) -> tuple[ReadItem, ...]:
    out = []
    for key, n in numel.items():
        if n in common and n > 1:
            role, layer, expert = parse_role_key(key)
            out.append(ReadItem(role, (layer,), rows=1, experts=(expert,)))
    return tuple(out)
