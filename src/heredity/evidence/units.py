"""Matching interchangeable units (MLP neurons, expert neurons) of two models, shared by the tests.

For two weight families of one layer (gate rows and up rows), neurons of A are matched to neurons of B
by an optimal assignment (Hungarian, cost ``-|cos|``) once on each family; :func:`match_units` reports
how often the two assignments agree and the p-value of that agreement under independence
(:func:`heredity.stats.agreement_p`).  Why this statistic and what its null assumes: :mod:`.matching`.

Before matching, every matrix has its mean row subtracted (a direction shared by all rows, as outlier
channels give, would otherwise couple the two assignments) and each up row is replaced by its component
orthogonal to the same neuron's gate row (training couples a neuron's gate and up rows).
"""

from __future__ import annotations

import numpy as np

from heredity.errors import NotApplicableError
from heredity.evidence.base import EvidenceTest
from heredity.evidence.features import Features, row_blocks
from heredity.layouts.roles import Role
from heredity.results import Exclusion
from heredity.stats import agreement_p, distinct, hungarian, spearman, spearman_perm_p, spread

MIN_UNITS = 3  # fewer usable neurons than this on a side: nothing to match


def prepare(gate: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre over neurons, decouple up from gate per neuron, unit-normalise rows.  Works in place on
    one float32 copy of each matrix (the same values as the out-of-place arithmetic, a fraction of the
    memory: at 7B a gate matrix is 180 MB)."""
    g = np.array(gate, dtype=np.float32)
    g -= gate.mean(axis=0, keepdims=True)
    u = np.array(up, dtype=np.float32)
    u -= up.mean(axis=0, keepdims=True)
    gg = np.einsum("ij,ij->i", g, g)
    coef = np.einsum("ij,ij->i", u, g) / np.where(gg > 0, gg, 1.0)
    u -= coef[:, None] * g
    return _unit_rows(g), _unit_rows(u)


def _unit_rows(w: np.ndarray) -> np.ndarray:
    """``w`` with every non-zero row scaled to unit length, in place."""
    n = np.linalg.norm(w, axis=1, keepdims=True)
    w /= np.where(n > 0, n, 1.0)
    return w


def usable(g: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows where both ``g`` and ``u`` are non-zero (the arrays themselves when all are)."""
    keep = np.any(g != 0, axis=1) & np.any(u != 0, axis=1)
    return (g, u) if keep.all() else (g[keep], u[keep])


def assign(rows_small: np.ndarray, rows_wide: np.ndarray) -> np.ndarray:
    """For each row of ``rows_small``, the index of its row in ``rows_wide`` (optimal, one-to-one)."""
    return hungarian(-np.abs(rows_small @ rows_wide.T))


def match_units(ga: np.ndarray, ua: np.ndarray, gb: np.ndarray, ub: np.ndarray, rng: np.random.Generator,
                max_rows: int) -> dict[str, float]:
    """Match neurons of A and B on gate and on up rows (already in one hidden basis); compare the two.

    Neurons whose gate or up row is all zero (pruned, or nothing but NaN/Inf, which the features layer
    sets to 0) are left out: every assignment would tie on them, and ties broken by index order would
    make the two matchings agree by construction.  NotApplicableError when fewer than
    :data:`MIN_UNITS` usable neurons remain on a side."""
    return match_prepared(*usable(*prepare(ga, ua)), *usable(*prepare(gb, ub)), rng, max_rows)


CHANNEL_BLOCKS = 8  # sampled channels are this many evenly spaced blocks of rows of down
def check_channels(channels: int) -> int:
    """A test's ``channels`` parameter: 0 (gate and up rows) or at least 2 rows of down."""
    if channels < 0 or channels == 1:
        raise ValueError("channels must be 0 (gate and up rows) or >= 2")
    return int(channels)


def channel_count(channels: int, a: Features, b: Features, downs: tuple[Role, ...]) -> int:
    """Rows of down a channel-signature test reads per matrix: ``channels`` made even and at most the
    narrower hidden size; 0 (use gate and up rows instead) when that leaves fewer than 2, when a side is
    a fingerprint (its sketch keeps gate and up rows), or when a side has none of the ``downs`` roles."""
    if channels <= 0 or a.is_fingerprint or b.is_fingerprint:
        return 0
    if not all(any(f.layers_with(r) for r in downs) for f in (a, b)):
        return 0
    k = min(channels, a.spec.hidden_size or 0, b.spec.hidden_size or 0)
    k -= k % 2
    return k if k >= 2 else 0


MASSIVE_Z = 6.0  # a neuron whose output norm is this many robust SDs above the median is left out


def channel_sample(hidden: int, k: int) -> np.ndarray:
    """``k`` of ``hidden`` channels as :data:`CHANNEL_BLOCKS` evenly spaced blocks (cheap to read as rows
    of down; which channels does not matter for the null, only that both signatures use disjoint ones)."""
    if k >= hidden:
        return np.arange(hidden - hidden % 2)
    blocks = row_blocks(hidden, k, CHANNEL_BLOCKS)
    out = distinct(np.concatenate([np.arange(s, s + n) for s, n in blocks]))
    return out[: len(out) - len(out) % 2]


def channel_signatures(down_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two decoupled signatures of every neuron from rows of ``down`` (``[channels, neurons]``, one hidden
    channel per row): the neuron's output weights on the even-positioned channels, and on the odd ones.

    * Each is centred over neurons (a direction shared by all neurons, as outlier channels give, would
      couple the two assignments).
    * "Massive" neurons, whose output norm over the channels read is an outlier (robust z above
      :data:`MASSIVE_Z`), are zeroed and so left out: they form a small group recognisable in both
      signatures (they write into the same outlier channels), and two independent models' massive groups
      would be matched to each other twice, an agreement the null does not allow for.
    * The second signature has its least-squares prediction from the first removed: a neuron's weights
      on different channels are linearly coupled within one model (low-rank structure), the analogue of
      a neuron's gate and up rows.
    * Rows are unit-normalised.

    Works on float32 copies of ``channels x neurons`` values only."""
    x = np.array(down_rows.T, dtype=np.float32)  # [neurons, channels]
    x -= x.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(x, axis=1)
    med = float(np.median(norms))
    mad = 1.4826 * float(np.median(np.abs(norms - med)))
    if mad > 0:
        x[norms > med + MASSIVE_Z * mad] = 0.0
    s1, s2 = np.ascontiguousarray(x[:, 0::2]), np.ascontiguousarray(x[:, 1::2])
    if s1.shape[0] > s1.shape[1]:
        x1 = s1.astype(np.float64)
        # normal equations on the small Gram matrix (lstsq on the tall one is 5-20x slower here);
        # lstsq of the Gram system itself copes with a singular one (constant or repeated channels)
        coef, *_ = np.linalg.lstsq(x1.T @ x1, x1.T @ s2.astype(np.float64), rcond=None)
        s2 -= (s1 @ coef.astype(np.float32))
    return _unit_rows(s1), _unit_rows(s2)


def match_prepared(ga: np.ndarray, ua: np.ndarray, gb: np.ndarray, ub: np.ndarray, rng: np.random.Generator,
                   max_rows: int) -> dict[str, float]:
    """Match ``max_rows`` units sampled from the narrower side into all units of the wider one on each of
    two prepared signature families (unit rows, all-zero units already left out); compare the two."""
    if min(ga.shape[0], gb.shape[0]) < MIN_UNITS:
        raise NotApplicableError(f"fewer than {MIN_UNITS} neurons with non-zero weights", Exclusion.NO_SIGNAL)
    if ga.shape[0] > gb.shape[0]:
        ga, ua, gb, ub = gb, ub, ga, ua
    k = min(max_rows, ga.shape[0])
    pick = np.sort(rng.choice(ga.shape[0], size=k, replace=False))
    pg, pu = assign(ga[pick], gb), assign(ua[pick], ub)
    rho = spearman(pg, pu) if k >= 3 else 0.0
    agree = int(np.sum(pg == pu))
    return {"agree": agree / k, "agree_count": agree, "rows": k, "wide": int(gb.shape[0]),
            "p_value": agreement_p(agree, k, gb.shape[0]), "spearman": rho,
            "spearman_p": spearman_perm_p(rho, k)}


def has_mlp(f: Features, layer: int) -> bool:
    """Gate and up rows available (for a fingerprint: in its matching sketch)."""
    return f.has_rows(Role.MLP_GATE, layer) and f.has_rows(Role.MLP_UP, layer)


def mlp_pair(f: Features, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """Gate and up of one layer with the MLP norm folded in (``[neurons, hidden]``); a fingerprint
    gives the first neurons its sketch kept."""
    gate, up = f.weight_rows(Role.MLP_GATE, layer), f.weight_rows(Role.MLP_UP, layer)
    if f.has(Role.MLP_NORM, layer):
        norm = f.vector(Role.MLP_NORM, layer)
        if norm.size == gate.shape[1]:
            gate, up = gate * norm[None, :], up * norm[None, :]
    return gate, up


def sample_layers(pairs: list[tuple[int, int]], max_layers: int) -> list[tuple[int, int]]:
    """At most ``max_layers`` evenly spaced entries of ``pairs``."""
    if len(pairs) <= max_layers:
        return pairs
    idx = spread(len(pairs), max_layers)
    return [pairs[i] for i in idx]


def agreeing_needed(rows: int, wide: int, target: float = 1e-6) -> int:
    """The fewest agreeing units among ``rows`` matched into ``wide`` whose agreement p-value is below
    ``target`` (``rows + 1`` when even full agreement is not)."""
    return next((c for c in range(1, rows + 1) if agreement_p(c, rows, wide) < target), rows + 1)


class UnitMatchingTest(EvidenceTest):
    """Base of the tests that match units layer by layer: ``max_rows`` units sampled from the narrower
    side of each of up to ``max_layers`` evenly spaced layers."""

    def __init__(self, seed: int = 0, max_rows: int = 512, max_layers: int = 8) -> None:
        super().__init__(seed)
        if max_rows < 1 or max_layers < 1:
            raise ValueError("max_rows and max_layers must be >= 1")
        self.max_rows = int(max_rows)
        self.max_layers = int(max_layers)
