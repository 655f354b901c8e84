"""`embeddings`: are the hidden channels of A's and B's token embeddings the same channels?

The units are the residual stream's hidden channels; the tokens both vocabularies hold are what the
channels are compared over.  Tokens are paired by their strings when both sides name them
(:mod:`heredity.checkpoint.tokens`: GGUF metadata, ``tokenizer.json``), by id otherwise, and at most
``max_tokens`` shared tokens are used (evenly spaced blocks of A's ids).

**The trap.** Two models trained independently on the same data with the same tokenizer give the
shared tokens similar row norms (frequency) and similar geometry, and one embedding space is close to
a linear function of the other (such maps generalise across tokens).  So anything invariant to a
change of B's basis (row norms, token-token similarities, how well a fitted linear or orthogonal map
fits) is shared by independent models and proves nothing.  A split-half check is caught too: channel
matchings found on two disjoint halves of the tokens agree far beyond the ``agreement_p`` null when
B ~ A M for any fixed dense M (docs/LOG.md, 2026-12-02: p ~ 1e-99 on simulated independent pairs).

**The statistic** is what a derived model keeps and an independent one does not: the basis.  Each side's
rows are centred (mean row removed), scaled to unit length (per-token norm removed) and centred again,
and each channel is scaled to unit length over the tokens.  Call the side with fewer channels X (A when
the widths are equal) and the other Y.  The least-squares (ridge) map ``M`` with ``X M ~ Y`` is computed
for up to ``max_units`` of X's channels; a derived model (fine-tune, quantisation, channels permuted and
sign-flipped, noise) gives rows with one dominant weight, a channel carried to one channel.  Each row's
*alignment* is ``max_j |M_ij| / ||M_i||``; the statistic ``T`` is their median.  How well the map fits
is never used: that is shared by independent models (above).

**The null.** If Y's basis is arbitrary relative to X's, i.e. Y's rows are distributed as the same rows
times a uniformly random rotation ``Q`` of its channels, then ``M`` becomes ``M Q`` (it is linear in Y):
whatever the two share (norms, geometry, a linear relation), each ``M_ij / ||M_i||`` is then a
coordinate of a uniformly random unit vector of ``R^w`` (``w``: Y's width), ``|.|^2 ~ Beta(1/2, (w -
1)/2)``.  Half the units reaching ``t`` is needed for ``T >= t``, so (union bound, then Markov) ``p =
units * w * P(Beta >= t^2) / ceil(units / 2)``: conservative, and it does not assume tokens are
independent (their dependence is all inside X and Y, which the argument conditions on).

Where the argument is approximate, and what handles it: real training is not rotation invariant, only
invariant to relabelling and sign-flipping channels (Adam, per-channel norm gains).

* A channel of outsized variance in Y (Gemma's embeddings have some) enters *every* row of ``M``
  (measured: p = 1.4e-6 for Gemma 3 vs stories260K paired by id, unrelated rows); scaling each channel
  to unit length removes it.  That step commutes with relabelling, not with rotation, so the null is
  then "the scaled channels of Y are in a random basis relative to X's".
* Privileged channels that two independent models share (one axis for token frequency in both): a
  shared channel ``y ~ x_i`` enters only row ``i`` of ``M`` (the rows of ``X^+`` are orthogonal to every
  other column of X), and the median ignores any minority of rows however strongly they align.

Tokens and units are chosen without looking at Y's weights.  Calibration on the null panel: docs/LOG.md.

**Power.** Embeddings are one matrix: a model whose embeddings were retrained while the body was kept,
or two vocabularies that share no tokens, leave this test silent, so its silence never lets the verdict
say `independent` (``Power.main_weights`` is False).  A shared tokenizer is never evidence by itself:
it only decides which rows are compared.
"""

from __future__ import annotations

import math

import numpy as np

from heredity.errors import NotApplicableError
from heredity.evidence.base import EvidenceTest, ReadItem, ReadPlan
from heredity.evidence.features import Features, ModelFeatures
from heredity.layouts.roles import Role
from heredity.plotdata import PerLayerPlot
from heredity.results import Evidence, Exclusion, Power
from heredity.stats import P_FLOOR, beta_inc, clip_p, distinct, finite, p_text, spread

MIN_TOKENS = 32  # fewer shared tokens than this: too few rows to compare channels over
MIN_UNITS = 8  # narrower hidden size below this: a median over channels means nothing
BLOCKS = 4  # shared tokens are taken as this many evenly spaced runs of A's ids
RUN_GAP = 8  # B's rows closer than this are read as one run
RIDGE = 0.01  # ridge of the least-squares map, as a fraction of the mean eigenvalue of the system
PLOT_POINTS = 256
POWER_TARGET = 1e-6


def embedding_role(f: Features) -> Role | None:
    """The token embedding (the output embedding when only that is stored)."""
    return next((r for r in (Role.EMBED, Role.LM_HEAD) if f.has(r)), None)


def vocab_rows(f: Features, role: Role) -> int:
    """How many embedding rows the side can give (a fingerprint: the rows its sketch kept)."""
    if isinstance(f, ModelFeatures):
        return f.model.canonical_rows(f.model.ref(role))
    kept = f.first_rows(role, None, 1 << 30)
    return 0 if kept is None else int(kept.shape[0])


def side_tokens(f: Features) -> list[str | None] | None:
    """Token strings of a model side (None for fingerprints and checkpoints without a tokenizer)."""
    if not isinstance(f, ModelFeatures):
        return None
    from heredity.checkpoint.tokens import tokens

    return tokens(f.model.checkpoint)


def pair_tokens(ta: list[str | None] | None, tb: list[str | None] | None, na: int,
                nb: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Row indices ``(ids_a, ids_b)`` of the tokens both sides hold, sorted by A's id, and how they were
    paired: by string when both sides name their tokens, by id otherwise."""
    if ta is None or tb is None:
        ids = np.arange(min(na, nb))
        return ids, ids, "token ids"
    where_b: dict[str, int] = {}
    for i, s in enumerate(tb[:nb]):
        if s is not None:
            where_b.setdefault(s, i)
    seen: set[str] = set()
    pa, pb = [], []
    for i, s in enumerate(ta[:na]):
        if s is not None and s not in seen and s in where_b:
            seen.add(s)
            pa.append(i)
            pb.append(where_b[s])
    return np.array(pa, dtype=np.int64), np.array(pb, dtype=np.int64), "token strings"


def pick_tokens(n: int, k: int, blocks: int = BLOCKS) -> np.ndarray:
    """Positions of ``k`` of ``n`` shared tokens: ``blocks`` evenly spaced runs (all when ``n <= k``)."""
    if n <= k:
        return np.arange(n)
    size = k // blocks
    starts = np.round(np.linspace(0, n - size, blocks)).astype(np.int64)
    out = distinct(np.concatenate([np.arange(s, s + size) for s in starts]))
    return out[:k]


def runs(ids: np.ndarray, gap: int = RUN_GAP) -> list[tuple[int, int]]:
    """``[start, stop)`` row runs covering the sorted unique ``ids`` (neighbours closer than ``gap``
    share a run)."""
    out: list[tuple[int, int]] = []
    for i in ids.tolist():
        if out and i - out[-1][1] < gap:
            out[-1] = (out[-1][0], i + 1)
        else:
            out.append((i, i + 1))
    return out


def read_rows(f: Features, role: Role, ids: np.ndarray) -> np.ndarray:
    """Embedding rows ``ids`` (any order), float32; a model reads only runs around them."""
    order = distinct(ids)
    if isinstance(f, ModelFeatures):
        ref = f.model.ref(role)
        parts: list[np.ndarray] = []
        for start, stop in runs(order):
            block = f.model.load_rows(ref, start, stop)
            if block is None:  # storage not sliceable by rows (transposed): read it whole once
                full = f.matrix(role)
                parts = [full[start:stop] for start, stop in runs(order)]
                break
            parts.append(finite(block))
        starts = np.concatenate([np.arange(s, e) for s, e in runs(order)])
        rows = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
        del parts
    else:
        kept = f.first_rows(role, None, int(order[-1]) + 1)
        assert kept is not None
        starts, rows = np.arange(kept.shape[0]), kept
    if starts.size == ids.size and np.array_equal(starts, ids):
        return np.asarray(rows, dtype=np.float32)  # the rows as read, in order: no gather copy
    return np.asarray(rows[np.searchsorted(starts, ids)], dtype=np.float32)


def prepare(e: np.ndarray) -> np.ndarray:
    """Centre, unit rows, centre again (removing the mean row and each token's norm), then every channel
    scaled to unit length over the tokens (a channel of outsized variance would otherwise dominate every
    row of the map; module docstring).  In place on ``e`` (float32: at 7B, 2048 rows are 32 MB)."""
    e -= e.mean(axis=0, keepdims=True)
    n = np.sqrt(np.einsum("ij,ij->i", e, e))[:, None]  # einsum: no full-size temporary
    e /= np.where(n > 0, n, 1.0)
    e -= e.mean(axis=0, keepdims=True)
    c = np.sqrt(np.einsum("ij,ij->j", e, e))[None, :]
    e /= np.where(c > 0, c, 1.0)
    return e


def map_rows(x: np.ndarray, y: np.ndarray, units: np.ndarray, ridge: float = RIDGE) -> np.ndarray:
    """Rows ``units`` of the ridge least-squares map ``M`` with ``x @ M ~ y`` (``x``: the conditioned
    side ``[tokens, hx]``, ``y``: the other ``[tokens, hy]``).  Linear in ``y`` and free of any inverse
    of y's covariance, so y's basis enters only through y itself: a rotation of y's channels rotates
    every row of ``M`` alike.  The primal form solves an ``hx x hx`` system, the dual one a ``tokens x
    tokens`` one (the same ``M``), whichever is smaller."""
    n, hx = x.shape
    if hx <= n:
        g = x.T @ x
        lam = ridge * float(np.trace(g)) / hx
        return np.linalg.solve(g + lam * np.eye(hx, dtype=g.dtype), x.T @ y)[units]
    g = x @ x.T
    lam = ridge * float(np.trace(g)) / n
    # rows ``units`` of x.T @ inv(g + lam I) @ y; the system is symmetric, so solve for the few columns
    # x[:, units] rather than for every column of y (at 7B: 512 right-hand sides instead of 4096)
    return np.linalg.solve(g + lam * np.eye(n, dtype=g.dtype), x[:, units]).T @ y


def unit_maxima(ea: np.ndarray, eb: np.ndarray, rng: np.random.Generator,
                max_units: int) -> tuple[np.ndarray, int]:
    """For up to ``max_units`` channels of the narrower side (sampled without looking at the weights):
    the largest ``|M_ij| / ||M_i||`` of its row of the map onto the wider side; and that side's width."""
    x, y = (ea, eb) if ea.shape[1] <= eb.shape[1] else (eb, ea)
    k = min(max_units, x.shape[1])
    units = np.sort(rng.choice(x.shape[1], size=k, replace=False))
    m = map_rows(x, y, units)
    norms = np.linalg.norm(m, axis=1)
    return np.abs(m).max(axis=1) / np.where(norms > 0, norms, 1.0), int(y.shape[1])


def coordinate_tail(t: float, d: int) -> float:
    """``P(|q_1| >= t)`` for ``q`` uniform on the unit sphere of ``R^d``: ``q_1^2`` is Beta(1/2, (d-1)/2),
    so the tail is ``I_{1-t^2}((d-1)/2, 1/2)`` (no scipy: importing scipy.stats cost a compare ~1 s)."""
    if t >= 1.0:
        return 0.0
    if d <= 1 or t <= 0.0:
        return 1.0
    return beta_inc((d - 1) / 2.0, 0.5, 1.0 - t * t)


def median_p(t: float, units: int, wide: int) -> float:
    """Bound on ``P(median of the unit maxima >= t)`` under a uniformly random basis (module docstring)."""
    need = math.ceil(units / 2)
    return clip_p(min(1.0, units * wide * coordinate_tail(t, wide) / need))


def needed(units: int, wide: int, target: float = POWER_TARGET) -> float:
    """The smallest median best-match weight whose p-value is below ``target`` (bisection)."""
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if median_p(mid, units, wide) < target else (mid, hi)
    return hi


class EmbeddingsTest(EvidenceTest):
    """Axis alignment of the least-squares map between A's and B's token embeddings over shared tokens."""

    name = "embeddings"
    compares = "token-embedding channels over shared tokens (basis alignment vs a random-basis null)"

    def __init__(self, seed: int = 0, max_tokens: int = 2048, max_units: int = 512) -> None:
        super().__init__(seed)
        if max_tokens < MIN_TOKENS or max_units < MIN_UNITS:
            raise ValueError(f"max_tokens must be >= {MIN_TOKENS} and max_units >= {MIN_UNITS}")
        self.max_tokens = int(max_tokens)
        self.max_units = int(max_units)

    def reads(self, a: Features, b: Features) -> ReadPlan:
        """Up to ``max_tokens`` rows of each side's token embedding (B's rows are those of the shared
        tokens: with another tokenizer they may lie anywhere, read in short runs)."""
        items = [ReadItem(r, rows=self.max_tokens) for r in (Role.EMBED, Role.LM_HEAD)]
        pick = tuple(i for i in items if a.has(i.role)), tuple(i for i in items if b.has(i.role))
        if not pick[0] or not pick[1]:
            return ReadPlan(note="not applicable: a side has no token embedding")
        return ReadPlan(pick[0][:1], pick[1][:1], note="rows of the shared tokens (the byte count is an estimate) "
                        "and the token strings (GGUF metadata or tokenizer.json, not tensor bytes)")

    def run(self, a: Features, b: Features) -> Evidence:
        ra, rb = embedding_role(a), embedding_role(b)
        if ra is None or rb is None:
            raise NotApplicableError("a side has no token embedding (embed or lm_head)", Exclusion.MISSING)
        ia, ib, how = pair_tokens(side_tokens(a), side_tokens(b), vocab_rows(a, ra), vocab_rows(b, rb))
        if ia.size < MIN_TOKENS:
            raise NotApplicableError(f"the vocabularies share {ia.size} tokens by {how} (need {MIN_TOKENS})",
                                     Exclusion.SHAPES)
        pick = pick_tokens(ia.size, self.max_tokens)
        ea, eb = read_rows(a, ra, ia[pick]), read_rows(b, rb, ib[pick])
        live = np.any(ea != 0, axis=1) & np.any(eb != 0, axis=1)  # unused (zero) rows say nothing
        if int(live.sum()) < MIN_TOKENS or min(ea.shape[1], eb.shape[1]) < MIN_UNITS:
            raise NotApplicableError(f"fewer than {MIN_TOKENS} shared tokens with non-zero rows, or a hidden size "
                                     f"below {MIN_UNITS}", Exclusion.NO_SIGNAL)
        if not live.all():
            ea, eb = ea[live], eb[live]
        maxima, wide = unit_maxima(prepare(ea), prepare(eb), np.random.default_rng(self.seed), self.max_units)
        return self._result(maxima, wide, int(live.sum()), int(ia.size), how)

    def _result(self, maxima: np.ndarray, wide: int, tokens: int, shared: int, how: str) -> Evidence:
        units = int(maxima.size)
        t = float(np.median(maxima))
        p = median_p(t, units, wide)
        chance = math.sqrt(2.0 * math.log(2.0 * wide) / wide)
        need = needed(units, wide)
        strong = float(np.mean(maxima > math.sqrt(0.5)))
        summary = (f"{tokens} shared tokens (paired by {how}), {units} channels: median best-match weight "
                   f"{t:.3f} (a random basis gives ~{min(chance, 1.0):.2f}); {strong:.0%} of channels map "
                   f"one-to-one; p={p_text(p)}")
        power = (f"{tokens} shared tokens x {units} channels: a median best-match weight of {need:.2f} reaches "
                 f"p<{POWER_TARGET:g}; one matrix only (not the main weights), so silence does not show "
                 f"independence")
        return self.evidence(t, max(p, P_FLOOR), summary, power=Power(False, power),
                             plots=[self._plot(maxima, wide)],
                             statistic_name="median over channels of the largest share of a row of the fitted map",
                             token_pairing=how, shared_tokens=shared, tokens_used=tokens, channels=units,
                             wide=wide, median_weight=round(t, 6), one_to_one=round(strong, 6),
                             random_basis_level=round(chance, 6), weight_needed=round(need, 6))

    def _plot(self, maxima: np.ndarray, wide: int) -> PerLayerPlot:
        """Each channel's best weight, ranked, beside one draw of what a random basis gives."""
        rng = np.random.default_rng(self.seed + 1)
        rows = min(maxima.size, max(1, (1 << 21) // max(wide, 1)))
        null = np.abs(rng.standard_normal((rows, wide)) / math.sqrt(wide)).max(axis=1)
        keep = spread(maxima.size, min(PLOT_POINTS, maxima.size))
        ranked = np.sort(maxima)[::-1][keep]
        x = keep / max(maxima.size - 1, 1)
        nk = spread(rows, min(PLOT_POINTS, rows))
        nx = nk / max(rows - 1, 1)
        return PerLayerPlot("embeddings: how one-to-one the channel map is",
                            "Each channel's largest weight (share of its row) in the least-squares map between the token embeddings, "
                            "channels ranked (x: share of channels). A derived model keeps its channels (weights "
                            "near 1); independent bases stay near the random-basis curve.",
                            {"A vs B": tuple(zip(x.tolist(), ranked.tolist(), strict=True)),
                             "random basis": tuple(zip(nx.tolist(), np.sort(null)[::-1][nk].tolist(), strict=True))},
                            "largest |weight|")
