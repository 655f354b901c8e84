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
from heredity.evidence.features import Features
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
    for role in LAYER_HIDDEN_ROLES:
        if not (a.layers_with(role) and b.layers_with(role)):
            continue
        sa, sb = hidden_stack(a, role, size), hidden_stack(b, role, size)
        if np.isfinite(sa).any() and np.isfinite(sb).any():
            out.append((role, sa, sb))
    return out


def similarity(st: list[tuple[Role, np.ndarray, np.ndarray]], perm: np.ndarray | None = None) -> np.ndarray:
    """``[La, Lb]`` mean Spearman over roles (NaN where no role is shared); ``perm`` permutes B's channels."""
    total = count = None
    for _, sa, sb in st:
        sbp = sb if perm is None else sb[:, perm]
        s = np.nan_to_num(sa) @ np.nan_to_num(sbp).T
        ok = np.isfinite(sa[:, :1]) & np.isfinite(sb[:, :1]).T
        total = np.where(ok, s, 0.0) if total is None else total + np.where(ok, s, 0.0)
        count = ok.astype(float) if count is None else count + ok
    if total is None or count is None:
        raise NotApplicableError("no non-constant residual-stream vectors shared by both models", Exclusion.NO_SIGNAL)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def monotone_path(sim: np.ndarray) -> tuple[float, list[tuple[int, int]]]:
    """Best strictly increasing set of pairs ``(i, j)`` maximising the summed similarity."""
    s = np.nan_to_num(sim, nan=0.0)
    la, lb = s.shape
    best = np.zeros((la + 1, lb + 1))
    for i in range(1, la + 1):
        for j in range(1, lb + 1):
            best[i, j] = max(best[i - 1, j], best[i, j - 1], best[i - 1, j - 1] + s[i - 1, j - 1])
    return float(best[la, lb]), _backtrack(best, s)


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
        if len(path) >= min(la, lb) // 2:
            return path, "monotone alignment of residual-stream vectors"
    return proportional_pairs(la, lb), "proportional by depth (no shared non-constant vectors)"


#: What the DP optimum is, in words (the null of `layers`, and of `vectors` when depths differ).
PATH_SCORE = "alignment score (Spearman summed along the best monotone path)"
