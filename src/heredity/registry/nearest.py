"""Which of several clearly related entries is the *nearest*: a descriptive distance between fingerprints.

Past a point p-values stop ranking anything: a parent, a sibling fine-tune and a byte-identical rename
all reach the p-value floor, and their differences there reflect how many tests ran, not how close the
models are.  Among such entries the search orders by the distance between what the fingerprints hold,
after putting B's residual channels into A's basis (the embedding alignment the `matching` test uses,
:func:`heredity.evidence.align.align_hidden`, so a permuted or sign-flipped copy is still near):

* the sketched embedding rows (shared tokens), columns aligned;
* every 1-D vector of hidden size (norms), aligned;
* the sketched MLP rows, columns aligned and rows (neurons) paired by an optimal assignment.

The parts are those the query (A) holds; a per-layer part is measured against B's nearest layer of
the same role (depths may differ).  Each is ``||a - b|| / (||a|| + ||b||)`` (0 for equal, about
0.7 for independent draws of one scale, at most 1), or 1 when B lacks it under the same key and shape;
the distance is their mean.  A fine-tune's parent is nearer than its siblings,
because a sibling adds its own change to the child's.  It is descriptive: it orders entries whose
adjusted p-values are already beyond doubt and never decides a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heredity.evidence.align import HiddenMap, align_hidden
from heredity.evidence.features import parse_role_key, role_key
from heredity.fingerprint.model import Fingerprint
from heredity.layouts.roles import Role
from heredity.stats import hungarian


def _rel(a: np.ndarray, b: np.ndarray) -> float | None:
    den = float(np.linalg.norm(a) + np.linalg.norm(b))
    if den == 0 or not np.isfinite(den):
        return None
    return float(np.linalg.norm(a - b)) / den


@dataclass(frozen=True)
class Nearness:
    distance: float  # mean relative distance over the query's parts (0 = equal)
    permuted: bool  # B's residual channels had to be permuted to line up with A's

    def order(self) -> tuple[float, bool, float]:
        """Distances within :data:`EQUAL` count as equal; then a copy that lines up without permuting
        channels comes first (a permuted copy of a parent is the parent up to symmetry: it ties)."""
        return (round(self.distance / EQUAL) * EQUAL, self.permuted, self.distance)


EQUAL = 1e-3


def nearness(a: Fingerprint, b: Fingerprint) -> Nearness | None:
    """How near B is to A (None when A holds nothing comparable); see :func:`distance`."""
    hmap = align_hidden(a, b)
    d = _distance(a, b, hmap)
    return None if d is None else Nearness(d, not hmap.identity)


def distance(a: Fingerprint, b: Fingerprint) -> float | None:
    """Mean relative distance over the parts of ``a`` (the query); a part ``b`` lacks, or holds in
    another shape, counts as the maximum 1.0 (None when ``a`` holds nothing comparable)."""
    return _distance(a, b, align_hidden(a, b))


def _distance(a: Fingerprint, b: Fingerprint, hmap: HiddenMap) -> float | None:
    n = len(hmap.idx_a)
    embed = role_key(Role.EMBED, None)
    parts: list[float] = []
    if embed in a.rows:
        eb = b.rows.get(embed)
        ea = a.rows[embed].astype(np.float32)
        ok = eb is not None and n > 0 and ea.shape[1] == a.spec.hidden_size and eb.shape[1] == b.spec.hidden_size
        t = min(ea.shape[0], eb.shape[0]) if eb is not None else 0
        parts.append(_part(hmap.apply_a(ea[:t]), hmap.apply_b(eb[:t].astype(np.float32))) if ok and eb is not None
                     else 1.0)
    for key, va in sorted(a.vectors.items()):
        if va.size == a.spec.hidden_size:
            same = [vb for vb in _same_role(b.vectors, key) if vb.size == va.size == n]
            parts.append(min((_part(va[hmap.idx_a], vb[hmap.idx_b]) for vb in same), default=1.0))
    for key, ra in sorted(a.rows.items()):
        if key != embed:
            same = [rb for rb in _same_role(b.rows, key) if rb.shape == ra.shape and ra.shape[1] == n]
            aligned = hmap.apply_a(ra.astype(np.float32))
            parts.append(min((_rows_part(aligned, hmap.apply_b(rb.astype(np.float32))) for rb in same), default=1.0))
    return float(np.mean(parts)) if parts else None


def _same_role(arrays: dict[str, np.ndarray], key: str) -> list[np.ndarray]:
    """B's arrays of the same role as ``key`` at any layer (depths may differ: the nearest layer counts)."""
    role, layer, expert = parse_role_key(key)
    if layer is None:
        return [arrays[key]] if key in arrays else []
    out = []
    for k, v in arrays.items():
        r, lb, eb = parse_role_key(k)
        if r == role and eb == expert and lb is not None:
            out.append(v)
    return out


def _rows_part(a: np.ndarray, b: np.ndarray) -> float:
    """Rows are neurons, which a permuted copy reorders: pair them by an optimal assignment on cosine
    first (the same for every candidate), then measure."""
    na = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    nb = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    cols = hungarian(-(na @ nb.T))
    return _part(a, b[cols])


def _part(a: np.ndarray, b: np.ndarray) -> float:
    r = _rel(a, b)
    return 1.0 if r is None else r
