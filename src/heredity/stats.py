"""Statistics shared by the evidence tests: centring, ranks, permutation nulls, p-value combination.

Why these and not others (see docs/LOG.md for the calibration runs):

* **Ranks before correlating.** Trained norms have a few outlier channels (massive activations); a
  Pearson correlation between two independent models is then dominated by whether the outliers happen
  to line up.  Rank (Spearman) correlations bound every unit's influence, so the normal approximation
  to the permutation distribution holds far into the tail.
* **Linear permutation statistics.** ``T(pi) = sum_i C[i, pi(i)]`` has an exactly known mean and
  variance under a uniformly random ``pi`` (Hoeffding's combinatorial theorem); for centred inputs the
  mean is 0 and the variance ``||C||_F^2 / (n - 1)``.  That variance already contains the dependence
  between layers that share one permutation (the residual stream's channels).
* **Monte-Carlo p-values** are ``(count + 1) / (n + 1)``: valid at any sample size, never zero.
* **Combination.** Fisher for statistics that are independent under the null (different permutation
  groups), Holm across the named tests in the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# The distributions a compare needs (normal, chi-square with even degrees of freedom, Poisson, Student t)
# and average ranks are computed here with numpy and math: importing scipy.stats or scipy.special costs
# 0.5-2 s of start-up, more than a small compare itself.  Only the assignment solver comes from scipy
# (scipy.optimize, imported when a matching test first needs it).  tests/evidence/test_evidence_stats.py
# checks each against scipy.

#: Smallest p-value we report; below this, float64 tails underflow and the number means nothing more.
P_FLOOR = 1e-300


FLOOR_SHOWN = P_FLOOR * 1e3  # below this a p-value is the floor times at most a correction factor
FLOOR_TEXT = "<1e-297"


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an integer array, as ``np.unique`` gives them; ``np.unique`` without
    ``return_*`` imports numpy.ma on first use, 15-25 ms of a small compare's start-up."""
    flat = np.sort(np.asarray(values).ravel())
    if flat.size == 0:
        return flat
    keep = np.empty(flat.size, dtype=bool)
    keep[0] = True
    np.not_equal(flat[1:], flat[:-1], out=keep[1:])
    return flat[keep]


def spread(n: int, k: int) -> np.ndarray:
    """At most ``k`` distinct, evenly spaced indices of ``range(n)``, first and last included."""
    return distinct(np.round(np.linspace(0, n - 1, k)).astype(np.int64))


def p_text(p: float) -> str:
    """A p-value in a sentence: two significant digits, or ``<1e-297`` at the computation floor (a
    floored value is a bound, not an estimate, and must not be quoted as one)."""
    return FLOOR_TEXT if p < FLOOR_SHOWN else f"{p:.2g}"


def all_finite(w: np.ndarray) -> bool:
    """Whether every value is finite; one BLAS dot settles the common case (a finite sum of squares
    proves it), an exact check runs only when that sum is not finite."""
    if w.dtype.kind != "f":
        return True
    flat = np.ascontiguousarray(w).reshape(-1)
    if flat.dtype in (np.float32, np.float64):
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.dot(flat, flat)):
                return True
    return bool(np.isfinite(flat).all())


def count_nonfinite(w: np.ndarray) -> int:
    """How many values are NaN or +-Inf (0 quickly for the usual all-finite array)."""
    return 0 if all_finite(w) else int(w.size - np.count_nonzero(np.isfinite(w)))


def finite(w: np.ndarray) -> np.ndarray:
    """``w`` with NaN/Inf set to 0 (the array itself when all values are finite): non-finite entries are
    data, not errors, and are left out of every statistic by giving them no weight."""
    return w if all_finite(w) else np.where(np.isfinite(w), w, 0).astype(w.dtype, copy=False)


def neg_log10_p(p: float | None) -> float:
    """Evidence strength ``-log10 p``, clipped at :data:`P_FLOOR` so it stays finite; a missing or NaN
    p-value scores 0 (as p = 1).  Used to rank pairs (bench ROC) and to weight lineage-tree edges."""
    if p is None or math.isnan(p):
        return 0.0
    return -math.log10(max(float(p), P_FLOOR))


def clip_p(p: float) -> float:
    """Clamp a p-value into ``[P_FLOOR, 1]`` (NaN stays NaN)."""
    if math.isnan(p):
        return p
    return float(min(1.0, max(P_FLOOR, p)))


def is_constant(v: np.ndarray, mode_fraction: float = 0.9) -> bool:
    """True for vectors that carry no lineage signal: fewer than 3 distinct values, or one value
    covering ``mode_fraction`` of the entries (all-ones norms, all-zero biases, a padded bias)."""
    flat = np.asarray(v).ravel()
    if flat.size < 3 or not all_finite(flat):
        return True
    if flat.size <= _SMALL:
        values, counts = np.unique(flat, return_counts=True)
        return bool(values.size < 3 or counts.max() >= mode_fraction * flat.size)
    return _is_constant_large(flat, mode_fraction)


_SMALL = 1 << 16  # arrays up to this size are sorted; larger ones are scanned in chunks of this size


def _is_constant_large(flat: np.ndarray, mode_fraction: float) -> bool:
    """:func:`is_constant` without sorting or copying the whole array (same answer, exactly).

    Fewer than 3 distinct values: nothing outside {min, max}.  A value covering at least
    ``mode_fraction`` (> 1/2) of the entries is the majority, hence the median, of most chunks, so the
    most frequent chunk median is the only candidate; it is then counted exactly."""
    lo, hi = flat.min(), flat.max()
    if not np.any((flat != lo) & (flat != hi)):
        return True
    medians = [np.partition(flat[i:i + _SMALL], len(flat[i:i + _SMALL]) // 2)[len(flat[i:i + _SMALL]) // 2]
               for i in range(0, flat.size, _SMALL)]
    values, counts = np.unique(np.array(medians), return_counts=True)
    candidate = values[int(np.argmax(counts))]
    return bool(np.count_nonzero(flat == candidate) >= mode_fraction * flat.size)


class ConstantScan:
    """:func:`is_constant` (default ``mode_fraction``) of a large array seen as consecutive pieces, with
    the same answer, so a tensor can be judged while it is read in row blocks: :meth:`add` each piece
    in order, then :meth:`result`; when that is None, :meth:`count` every piece again, in any order,
    and ask :meth:`result` once more.

    As in the whole-array scan: fewer than 3 distinct values is tracked as at most two values seen;
    otherwise the candidate is the most frequent median of consecutive chunks of ``_SMALL`` elements.
    A value covering 90 % of the entries is the median of every full chunk it fills more than half
    of; each other full chunk holds at least half a chunk of the other 10 %, so it is the median of at
    least ``0.8 F - 0.2`` of the ``F`` full chunks, a majority of all chunks once ``F >= 3``.  So
    a candidate that is no majority of the medians means False; a majority candidate is counted
    exactly (the second pass: rare, a tensor most of whose chunks share one median)."""

    def __init__(self) -> None:
        self.size = 0
        self.nonfinite = False
        self.seen: set[float] | None = set()  # the distinct values while there are at most two
        self.medians: list[float] = []
        self.full_chunks = 0
        self.tail: list[np.ndarray] = []  # the last, not yet complete chunk
        self.tail_size = 0
        self.candidate: float | None = None
        self.counted: int | None = None

    def add(self, piece: np.ndarray) -> None:
        flat = np.asarray(piece).ravel()
        self.size += flat.size
        if self.nonfinite or not all_finite(flat):
            self.nonfinite = True
            return
        if flat.size and self.seen is not None:
            lo, hi = flat.min(), flat.max()
            self.seen = None if np.any((flat != lo) & (flat != hi)) else self.seen | {float(lo), float(hi)}
            if self.seen is not None and len(self.seen) > 2:
                self.seen = None
        start = 0
        if self.tail_size:  # complete the pending chunk first
            start = min(flat.size, _SMALL - self.tail_size)
            self._pend(flat[:start])
        for i in range(start, flat.size - _SMALL + 1, _SMALL):
            self._median(flat[i:i + _SMALL])
            start = i + _SMALL
        if start < flat.size:
            self._pend(flat[start:])

    def _pend(self, part: np.ndarray) -> None:
        self.tail.append(part.copy())
        self.tail_size += part.size
        if self.tail_size == _SMALL:
            self._median(np.concatenate(self.tail))
            self.tail, self.tail_size = [], 0

    def _median(self, chunk: np.ndarray) -> None:
        self.full_chunks += chunk.size == _SMALL
        self.medians.append(float(np.partition(chunk, chunk.size // 2)[chunk.size // 2]))

    def count(self, piece: np.ndarray) -> None:
        """The exact-count pass, once :meth:`result` has returned None."""
        assert self.candidate is not None, "count() is only needed after result() returned None"
        self.counted = (self.counted or 0) + int(np.count_nonzero(np.asarray(piece) == self.candidate))

    def result(self) -> bool | None:
        if self.size < 3 or self.nonfinite or self.seen is not None:
            return True
        if self.tail_size:
            self._median(np.concatenate(self.tail))
            self.tail, self.tail_size = [], 0
        if self.candidate is None:
            values, counts = np.unique(np.array(self.medians), return_counts=True)
            if self.full_chunks >= 3 and 2 * int(counts.max()) <= len(self.medians):
                return False
            self.candidate = float(values[int(np.argmax(counts))])
        if self.counted is None:
            return None
        return bool(self.counted >= 0.9 * self.size)


def standardise(v: np.ndarray) -> np.ndarray:
    """Centre and scale to unit norm (so dot products are Pearson correlations)."""
    x = np.asarray(v, dtype=np.float64).ravel()
    x = x - x.mean()
    n = np.linalg.norm(x)
    return x / n if n > 0 else x


def rankdata(v: np.ndarray) -> np.ndarray:
    """Average ranks (1-based; ties share the mean of their ranks); all NaN when any value is NaN."""
    x = np.asarray(v, dtype=np.float64).ravel()
    if np.isnan(x).any():
        return np.full(x.size, np.nan)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    starts = np.flatnonzero(np.concatenate([[True], xs[1:] != xs[:-1]])) if x.size else np.zeros(0, np.int64)
    ends = np.append(starts[1:], x.size)
    ranks = np.empty(x.size)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def rank_standardise(v: np.ndarray) -> np.ndarray:
    """Average ranks, centred, unit norm: dot products of these are Spearman correlations."""
    return standardise(rankdata(v))


def centred_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Mean-centred Pearson correlation (0.0 when either side is constant)."""
    return float(np.dot(standardise(a), standardise(b)))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (0.0 when either side is constant)."""
    return float(np.dot(rank_standardise(a), rank_standardise(b)))


def normal_sf(z: float) -> float:
    """Upper tail of the standard normal, accurate far out (``erfc`` based)."""
    return clip_p(0.5 * math.erfc(z / math.sqrt(2.0)))


def linear_perm_z(rows_a: np.ndarray, rows_b: np.ndarray) -> tuple[float, float]:
    """z-score of ``sum_k a_k . b_k`` under one random permutation shared by every pair ``k``.

    ``rows_a`` and ``rows_b`` are ``[K, n]`` with centred rows.  Returns ``(statistic, z)``; the
    variance is ``tr(Ga Gb) / (n - 1)`` with the Gram matrices ``G = R R^T``.
    """
    n = rows_a.shape[1]
    stat = float(np.sum(rows_a * rows_b))
    var = float(np.sum((rows_a @ rows_a.T) * (rows_b @ rows_b.T))) / max(n - 1, 1)
    return stat, (stat / math.sqrt(var) if var > 0 else 0.0)


def mc_p_value(observed: float, null: np.ndarray) -> float:
    """One-sided Monte-Carlo p-value ``(#{null >= observed} + 1) / (n + 1)``."""
    count = int(np.sum(np.asarray(null) >= observed - 1e-12))
    return (count + 1) / (len(null) + 1)


def fisher_combine(p_values: Sequence[float]) -> float:
    """Fisher's method for p-values that are independent under the null."""
    ps = [clip_p(p) for p in p_values if not math.isnan(p)]
    if not ps:
        return float("nan")
    stat = -2.0 * sum(math.log(p) for p in ps)
    return clip_p(chi2_sf_even(stat, 2 * len(ps)))


def _logsumexp(logs: Sequence[float]) -> float:
    top = max(logs)
    return top + math.log(sum(math.exp(v - top) for v in logs))


def chi2_sf_even(stat: float, dof: int) -> float:
    """Upper tail of a chi-square with an even number ``dof = 2k`` of degrees of freedom: the chance that
    a Poisson count of mean ``stat / 2`` is below ``k`` (exact; summed in logs, so far tails do not
    underflow before :data:`P_FLOOR`)."""
    if dof <= 0 or dof % 2:
        raise ValueError("chi2_sf_even: dof must be a positive even number")
    half = stat / 2.0
    if half <= 0:
        return 1.0
    return min(1.0, _poisson_below(dof // 2, half))


def _poisson_below(k: int, mu: float) -> float:
    """``P(X < k)`` for a Poisson count of mean ``mu > 0``, summed in logs."""
    return math.exp(_logsumexp([-mu + i * math.log(mu) - math.lgamma(i + 1) for i in range(k)]))


def poisson_sf(k: int, mu: float) -> float:
    """``P(X >= k)`` for a Poisson count ``X`` of mean ``mu``."""
    if k <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    if k > mu:  # the tail from k up: terms fall by mu / (i + 1) < 1 each step
        logs, i = [-mu + k * math.log(mu) - math.lgamma(k + 1)], k
        while len(logs) < 100_000:
            i += 1
            logs.append(logs[-1] + math.log(mu / i))
            if logs[-1] < logs[0] - 40:
                break
        return min(1.0, math.exp(_logsumexp(logs)))
    return max(0.0, 1.0 - _poisson_below(k, mu))


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularised incomplete beta function, by the modified Lentz method."""
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def beta_inc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function ``I_x(a, b)``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def pearson_p(xa: np.ndarray, xb: np.ndarray) -> float:
    """Two-sided p-value of the classical Pearson t-test (independent normal pairs; shown only where a
    published analysis quotes it, never used for a verdict)."""
    n = int(np.asarray(xa).size)
    r = centred_corr(xa, xb)
    if n <= 2:
        return 1.0
    r = max(-1.0, min(1.0, r))
    if abs(r) >= 1.0:
        return 0.0
    df = n - 2
    t2 = r * r * df / (1.0 - r * r)
    return beta_inc(df / 2.0, 0.5, df / (df + t2))


def cauchy_combine(p_values: Sequence[float]) -> float:
    """Cauchy combination (Liu & Xie 2020): approximately valid under arbitrary dependence."""
    ps = np.array([clip_p(p) for p in p_values if not math.isnan(p)])
    if ps.size == 0:
        return float("nan")
    ps = np.minimum(ps, 1 - 1e-15)
    small = ps < 1e-15  # tan(pi/2 - x) ~ 1/x: avoid the cancellation
    t = np.where(small, 1.0 / (np.pi * ps), np.tan((0.5 - ps) * np.pi))
    stat = float(t.mean())
    if stat > 1e15:
        return clip_p(1.0 / (stat * np.pi))
    return clip_p(0.5 - math.atan(stat) / math.pi)


def holm(p_values: Sequence[float], m: int | None = None) -> list[float]:
    """Holm step-down adjusted p-values, in the input order.  ``m`` (at least ``len(p_values)``) is
    the number of hypotheses the family could have held: those not tested count as p = 1, so the
    adjustment is conservative for them (an adaptive plan that stopped early corrects for every test it
    could have run)."""
    n = len(p_values)
    m = n if m is None else max(m, n)
    order = sorted(range(n), key=lambda i: p_values[i])
    adjusted = [1.0] * n
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def spearman_perm_p(rho: float, n: int) -> float:
    """p-value of a Spearman correlation between two independent uniform orderings of ``n`` items
    (normal approximation ``rho * sqrt(n - 1)``; the exact null has lighter tails, so this errs on
    the conservative side far out)."""
    if n < 3:
        return 1.0
    return normal_sf(rho * math.sqrt(n - 1))


def agreement_p(agree: int, rows: int, cols: int) -> float:
    """p-value of ``agree`` rows mapped to the same column by two independent uniform one-to-one
    assignments of ``rows`` rows into ``cols`` columns: the count of coincidences is close to
    Poisson with mean ``rows / cols`` (exactly the fixed points of a random permutation when square)."""
    if agree <= 0:
        return 1.0
    return clip_p(poisson_sf(agree, rows / max(cols, 1)))


def hungarian(cost: np.ndarray) -> np.ndarray:
    """Minimum-cost assignment of every row to a distinct column (rows <= columns).

    Returns ``cols`` with ``cols[i]`` the column given to row ``i``.
    """
    from scipy import optimize

    if cost.shape[0] > cost.shape[1]:
        raise ValueError("hungarian: more rows than columns; transpose first")
    rows, cols = optimize.linear_sum_assignment(cost)
    out = np.empty(cost.shape[0], dtype=np.int64)
    out[rows] = cols
    return out


def fit_normal_p(observed: float, null: np.ndarray) -> float:
    """Tail beyond ``observed`` of a normal fitted to Monte-Carlo null samples (an extrapolation:
    used only where no exact null exists, and labelled approximate where reported)."""
    sd = float(np.std(null))
    if sd <= 0:
        return 1.0 if observed <= float(np.mean(null)) else P_FLOOR
    return normal_sf((observed - float(np.mean(null))) / sd)
