"""Pairing the layers of two models, shared by every test that compares layer by layer.

Similarity of layer ``i`` of A and layer ``j`` of B is the mean Spearman correlation of their
residual-stream vectors (attention/MLP norms and hidden-size biases).  Those vectors share one channel
basis across all layers, so permuting B's channels with one random permutation gives a null for the
whole matrix at once.  The best *monotone* alignment (layers dropped or duplicated, never reordered
past each other) is found by dynamic programming.  :func:`layer_pairs` is what the tests call.
"""

from __future__ import annotations

import numpy as np

from heredity.errors import NotApplicableError
from heredity.evidence.features import Features, Wanted
from heredity.layouts.roles import Role
from heredity.results import Exclusion
from heredity.stats import is_constant, rank_standardise

#: Per-layer vectors in the residual-stream basis, used to align layers.
LAYER_HIDDEN_ROLES = (
    Role.ATTN_NORM,
    Role.MLP_NORM,
    Role.POST_ATTN_NORM,
    Role.POST_MLP_NORM,
    Role.O_BIAS,
    Role.MLP_DOWN_BIAS,
    Role.ATTN_NORM_BIAS,
    Role.MLP_NORM_BIAS,
)


def hidden_stack(f: Features, role: Role, size: int) -> np.ndarray:
    """``[layers, size]`` rank-standardised rows of ``role``; NaN rows where absent or constant."""
    out = np.full((f.spec.layers, size), np.nan)
    for layer in f.layers_with(role):
        if layer >= f.spec.layers:
            continue
        v = f.vector(role, layer)
        if v.size == size and not is_constant(v):
            out[layer] = rank_standardise(v)
    return out


def stacks(a: Features, b: Features) -> list[tuple[Role, np.ndarray, np.ndarray]]:
    """The roles both sides have as non-constant hidden vectors of one common size."""
    size = a.spec.hidden_size
    if size is None or size != b.spec.hidden_size:
        return []
    out = []
    roles = [r for r in LAYER_HIDDEN_ROLES if a.layers_with(r) and b.layers_with(r)]
    for f in (a, b):
        f.prefetch(Wanted(r, layer) for r in roles for layer in f.layers_with(r) if layer < f.spec.layers)
    for role in roles:
        sa, sb = hidden_stack(a, role, size), hidden_stack(b, role, size)
        if np.isfinite(sa).any() and np.isfinite(sb).any():
            out.append((role, sa, sb))
    return out


def similarity(st: list[tuple[Role, np.ndarray, np.ndarray]], perm: np.ndarray | None = None) -> np.ndarray:
    """``[La, Lb]`` mean Spearman over roles (NaN where no role is shared); ``perm`` permutes B's channels."""
    return Similarity(st)(perm)


class Similarity:
    """:func:`similarity` with the NaN-free stacks and masks prepared once, for many permutations."""

    def __init__(self, st: list[tuple[Role, np.ndarray, np.ndarray]]) -> None:
        if not st:
            raise NotApplicableError("no non-constant residual-stream vectors shared by both models",
                                     Exclusion.NO_SIGNAL)
        self.parts = [(np.nan_to_num(sa), np.nan_to_num(sb), np.isfinite(sa[:, :1]) & np.isfinite(sb[:, :1]).T)
                      for _, sa, sb in st]
        self.count = sum(ok.astype(float) for _, _, ok in self.parts)

    def __call__(self, perm: np.ndarray | None = None) -> np.ndarray:
        total = np.zeros(self.count.shape)
        for sa, sb, ok in self.parts:
            total += np.where(ok, sa @ (sb if perm is None else sb[:, perm]).T, 0.0)
        return self._mean(total)

    def _mean(self, total: np.ndarray) -> np.ndarray:
        """Summed similarities over roles -> their mean (NaN where no role is shared)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, total / np.maximum(self.count, 1), np.nan)

    def many(self, perms: list[np.ndarray], chunk: int = 16) -> list[np.ndarray]:
        """``[self(p) for p in perms]`` with one matrix product per ``chunk`` permutations and role (many
        tiny products cost far more than few wide ones, above all when threads compete for cores)."""
        out: list[np.ndarray] = []
        lb = self.count.shape[1]
        for start in range(0, len(perms), chunk):
            group = perms[start:start + chunk]
            totals = np.zeros((len(group), *self.count.shape))
            for sa, sb, ok in self.parts:
                wide = np.concatenate([sb[:, p] for p in group])  # [len(group) * Lb, hidden]
                prod = (sa @ wide.T).reshape(sa.shape[0], len(group), lb).transpose(1, 0, 2)
                totals += np.where(ok[None], prod, 0.0)
            out.extend(self._mean(t) for t in totals)
        return out


def monotone_path(sim: np.ndarray) -> tuple[float, list[tuple[int, int]]]:
    """Best strictly increasing set of pairs ``(i, j)`` maximising the summed similarity."""
    s = np.nan_to_num(sim, nan=0.0)
    best = _path_table(s)
    return float(best[-1, -1]), _backtrack(best, s)


def monotone_score(sim: np.ndarray) -> float:
    """:func:`monotone_path`'s score alone (what a permutation null needs)."""
    return float(_path_table(np.nan_to_num(sim, nan=0.0))[-1, -1])


def _path_table(s: np.ndarray) -> np.ndarray:
    """``best[i, j]``: the best score using the first ``i`` rows and ``j`` columns, where
    ``best[i, j] = max(best[i-1, j], best[i, j-1], best[i-1, j-1] + s[i-1, j-1])``.  A row at a time: the
    first and third terms give ``c[j]``, and the second makes the row a running maximum of ``c``
    (same additions and maxima as the cell-by-cell recursion, so the same values exactly)."""
    la, lb = s.shape
    best = np.zeros((la + 1, lb + 1))
    for i in range(1, la + 1):
        prev = best[i - 1]
        np.maximum.accumulate(np.maximum(prev[1:], prev[:-1] + s[i - 1]), out=best[i, 1:])
    return best


def _backtrack(best: np.ndarray, s: np.ndarray) -> list[tuple[int, int]]:
    i, j = s.shape
    path: list[tuple[int, int]] = []
    while i > 0 and j > 0:
        if best[i, j] == best[i - 1, j]:
            i -= 1
        elif best[i, j] == best[i, j - 1]:
            j -= 1
        else:
            path.append((i - 1, j - 1))
            i, j = i - 1, j - 1
    return path[::-1]


def proportional_pairs(la: int, lb: int) -> list[tuple[int, int]]:
    """Pair layer ``i`` of the shallower model with the proportionally placed layer of the deeper."""
    if la <= lb:
        return [(i, min(lb - 1, round(i * (lb - 1) / max(la - 1, 1)))) for i in range(la)]
    return [(j_a, j) for j, j_a in proportional_pairs(lb, la)]


def layer_pairs(a: Features, b: Features) -> tuple[list[tuple[int, int]], str]:
    """Layer pairs for the other tests, and how they were chosen."""
    la, lb = a.spec.layers, b.spec.layers
    if la == lb:
        return [(i, i) for i in range(la)], "identity (equal depth)"
    st = stacks(a, b)
    if st:
        _, path = monotone_path(similarity(st))
        if len(path) >= max(MIN_PATH, min(la, lb) // 2):
            return path, "monotone alignment of residual-stream vectors"
        why = f"the monotone alignment kept only {len(path)} layer pair(s)"
    else:
        why = "no shared non-constant vectors"
    return proportional_pairs(la, lb), f"proportional by depth ({why})"


#: Fewest layer pairs a monotone alignment must keep to be used.  On independent models the alignment
#: keeps only pairs of positive similarity, often one; the tests that need two layers to have power
#: (``matching``) then pair every layer of the shallower model by depth instead (docs/LOG.md).
MIN_PATH = 2


#: What the DP optimum is, in words (the null of `layers`, and of `vectors` when depths differ).
PATH_SCORE = "alignment score (Spearman summed along the best monotone path)"
