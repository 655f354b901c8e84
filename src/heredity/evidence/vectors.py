"""`vectors`: elementwise correlation of aligned 1-D vectors, with permutation nulls that respect symmetry.

Each vector lives in a space whose units are interchangeable under independent training, and the null
permutes exactly those units:

* **hidden** (attention/MLP/post norms, final norm, o and down biases): the residual-stream channels.
  One permutation is shared by *every layer* (it is one basis), so all hidden vectors form one linear
  permutation statistic whose exact variance includes the cross-layer dependence (``stats.linear_perm_z``).
* **heads** (q/k/v biases): whole heads, never positions inside a head (RoPE ties them); with GQA the
  KV groups are permuted together and query heads only within their group.  Independent per layer.
* **units** (MLP up bias: neurons; router bias/scale: experts; MLA latent norms): free per layer.
* **none** (q/k norms of size head_dim): every position is tied to a RoPE frequency, so nothing is
  exchangeable; the correlation is reported, never tested.

Correlations are Spearman on mean-centred ranks (robust to outlier channels); Pearson is reported too.
Constant vectors (all-ones norms, zero biases) are skipped.  Group p-values are combined with Fisher,
which is valid because different groups are permuted independently.  When depths differ the hidden
statistic is the best monotone layer alignment's score, with a Monte-Carlo null (see `layers`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from heredity.errors import NotApplicableError
from heredity.evidence import pairing
from heredity.evidence.base import EvidenceTest, ReadItem, ReadPlan
from heredity.evidence.features import Features, Wanted, role_key
from heredity.layouts.roles import Role
from heredity.plotdata import NullPlot, PerLayerPlot, Plot, ScatterPanel, ScatterPlot, floats
from heredity.results import Evidence, Exclusion, Power
from heredity.stats import (
    centred_corr,
    fisher_combine,
    fit_normal_p,
    is_constant,
    linear_perm_z,
    mc_p_value,
    normal_sf,
    rank_standardise,
    spread,
)

HIDDEN = (*pairing.LAYER_HIDDEN_ROLES, Role.POST_ATTN_NORM_BIAS)
GLOBAL_HIDDEN = (Role.FINAL_NORM, Role.FINAL_NORM_BIAS, Role.EMBED_NORM, Role.EMBED_NORM_BIAS)
HEADS = (Role.Q_BIAS, Role.K_BIAS, Role.V_BIAS)
UNITS = {Role.MLP_UP_BIAS: "neurons", Role.ROUTER_BIAS: "experts", Role.ROUTER_SCALE: "experts",
         Role.Q_A_NORM: "q_latent", Role.KV_A_NORM: "kv_latent"}
UNTESTED = (Role.Q_NORM, Role.K_NORM)
SCATTER_VECTORS, SCATTER_CAP = 4, 4096  # raw vector pairs kept for the report's scatter plot
MIN_NORMAL_N = 20  # below this many units a group uses Monte-Carlo instead of the normal approximation
MIN_VECTORS = 4  # this many non-constant vectors compared make the test powerful on the main weights
MAX_SERIES = 8  # roles drawn in the per-layer plot
HIDDEN_NULL_OF = "residual-basis statistic (sum over hidden vectors of rank-standardised products)"


@dataclass
class Pair:
    """One vector of A compared with one of B."""

    role: Role
    layer_a: int | None
    layer_b: int | None
    a: np.ndarray
    b: np.ndarray

    @property
    def key(self) -> str:
        if self.layer_a == self.layer_b:
            return role_key(self.role, self.layer_a)
        return f"{self.role.value}@{self.layer_a}~{self.layer_b}"

    def row(self) -> dict[str, float]:
        return {"pearson": round(centred_corr(self.a, self.b), 4),
                "spearman": round(float(rank_standardise(self.a) @ rank_standardise(self.b)), 4)}


def collect(a: Features, b: Features, roles: tuple[Role, ...], pairs: list[tuple[int, int]],
            skipped: list[str]) -> list[Pair]:
    """Pairs of non-constant, equal-length vectors for ``roles`` over the layer ``pairs``."""
    out: list[Pair] = []
    wanted = [(role, la, lb) for role in roles for la, lb in pairs if a.has(role, la) and b.has(role, lb)]
    a.prefetch(Wanted(role, la) for role, la, _ in wanted)
    b.prefetch(Wanted(role, lb) for role, _, lb in wanted)
    for role in roles:
        for la, lb in pairs:
            if a.has(role, la) and b.has(role, lb):
                _add(Pair(role, la, lb, a.vector(role, la), b.vector(role, lb)), out, skipped)
    return out


def collect_global(a: Features, b: Features, skipped: list[str]) -> list[Pair]:
    out: list[Pair] = []
    for role in GLOBAL_HIDDEN:
        if a.has(role) and b.has(role):
            _add(Pair(role, None, None, a.vector(role), b.vector(role)), out, skipped)
    return out


def _add(p: Pair, out: list[Pair], skipped: list[str]) -> None:
    if p.a.size != p.b.size:
        skipped.append(f"{p.key}: sizes differ ({p.a.size} vs {p.b.size})")
    elif is_constant(p.a) or is_constant(p.b):
        skipped.append(f"{p.key}: constant")
    else:
        out.append(p)


def ranks(pairs: list[Pair]) -> tuple[np.ndarray, np.ndarray]:
    return (np.stack([rank_standardise(p.a) for p in pairs]), np.stack([rank_standardise(p.b) for p in pairs]))


def random_perms(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    """``m`` independent uniform permutations of ``n`` items, as rows."""
    return np.argsort(rng.random((m, n)), axis=1)


def perm_null(ra: np.ndarray, rb: np.ndarray, rng: np.random.Generator, m: int) -> np.ndarray:
    """``sum_k ra_k . rb_k[perm]`` for ``m`` random permutations shared by all rows.

    Through the unit-by-unit matrix ``C = ra^T rb`` (``T(perm) = sum_i C[i, perm[i]]``) when it fits,
    else by gathering rows in chunks."""
    k, n = ra.shape
    if m == 0:
        return np.empty(0)
    perms = random_perms(rng, m, n)
    if n <= 8192:
        c = (ra.T.astype(np.float32) @ rb.astype(np.float32))
        return c[np.arange(n)[None, :], perms].sum(axis=1, dtype=np.float64)
    return np.array([np.sum(ra * rb[:, perm]) for perm in perms])


def linear_group_p(pairs: list[Pair], rng: np.random.Generator, n_perm: int) -> tuple[float, float, np.ndarray]:
    """Statistic, p-value and null samples for vectors sharing one free permutation.  With at least
    MIN_NORMAL_N units the p-value is the normal tail of the exact permutation mean/variance and the
    samples are only for plots; below that it is Monte-Carlo."""
    ra, rb = ranks(pairs)
    n = ra.shape[1]
    stat, z = linear_perm_z(ra, rb)
    null = perm_null(ra, rb, rng, n_perm)
    p = normal_sf(z) if n >= MIN_NORMAL_N else mc_p_value(stat, null)
    return stat, p, null


def head_permutations(rng: np.random.Generator, m: int, heads: int, kv_heads: int) -> tuple[np.ndarray, np.ndarray]:
    """``m`` random symmetries of GQA attention: query-head orders ``[m, heads]``, kv orders ``[m, kv]``:
    KV groups are permuted together, query heads only within their group."""
    group = heads // kv_heads
    kv = random_perms(rng, m, kv_heads)
    within = random_perms(rng, m * kv_heads, group).reshape(m, kv_heads, group)
    q = (kv[:, :, None] * group + within).reshape(m, heads)
    return q, kv


def head_group_p(pairs: list[Pair], spec_heads: tuple[int, int, int], rng: np.random.Generator,
                 n_perm: int) -> tuple[float, float]:
    """Monte-Carlo p-value for q/k/v biases of one layer under whole-head permutations."""
    heads, kv_heads, head_dim = spec_heads
    q, kv = head_permutations(rng, n_perm, heads, kv_heads)
    stat, null = 0.0, np.zeros(n_perm)
    for p in pairs:
        ra, rb = rank_standardise(p.a), rank_standardise(p.b)
        stat += float(ra @ rb)
        order = q if p.role == Role.Q_BIAS else kv
        # permuting B's heads permutes the columns of the head-by-head Gram matrix: the null statistic
        # of order o is sum_h gram[h, o[h]] (no [m, heads, head_dim] copy of B's blocks)
        gram = ra.reshape(-1, head_dim) @ rb.reshape(-1, head_dim).T  # [heads, heads]
        null += gram[np.arange(order.shape[1]), order].sum(axis=1)
    return stat, mc_p_value(stat, null)


class VectorsTest(EvidenceTest):
    """Per-layer correlations of norms and biases against symmetry-respecting permutation nulls."""

    name = "vectors"
    compares = "aligned 1-D vectors (norms, biases), per layer"

    def __init__(self, seed: int = 0, n_perm: int = 999, n_null_samples: int = 200) -> None:
        super().__init__(seed)
        if n_perm < 1 or n_null_samples < 0:
            raise ValueError("n_perm must be >= 1 and n_null_samples >= 0")
        self.n_perm = int(n_perm)
        self.n_null_samples = int(n_null_samples)

    def reads(self, a: Features, b: Features) -> ReadPlan:
        """Every norm and bias vector of the roles compared, in every layer that has one."""
        roles = (*HIDDEN, *GLOBAL_HIDDEN, *HEADS, *UNITS, *UNTESTED)

        def side(f: Features) -> tuple[ReadItem, ...]:
            out = [ReadItem(r, tuple(f.layers_with(r))) for r in roles if f.layers_with(r)]
            return tuple(out + [ReadItem(r) for r in GLOBAL_HIDDEN if f.has(r)])

        return ReadPlan(side(a), side(b))

    def run(self, a: Features, b: Features) -> Evidence:
        rng = np.random.default_rng(self.seed)
        pairs, pairing_how = pairing.layer_pairs(a, b)
        skipped: list[str] = []
        groups: dict[str, dict[str, object]] = {}
        hidden = collect(a, b, HIDDEN, pairs, skipped) + collect_global(a, b, skipped)
        compared: list[Pair] = list(hidden)
        if hidden:
            groups["hidden"] = self._hidden_group(a, b, hidden, rng)
        compared += self._unit_groups(a, b, pairs, rng, groups, skipped)
        compared += self._head_groups(a, b, pairs, rng, groups, skipped)
        untested = {p.key: p.row() for p in collect(a, b, UNTESTED, pairs, skipped)}
        if not groups:
            raise NotApplicableError(*_why_nothing(skipped))
        return self._result(groups, compared, untested, skipped, pairing_how)

    def _hidden_group(self, a: Features, b: Features, hidden: list[Pair],
                      rng: np.random.Generator) -> dict[str, object]:
        if a.spec.layers == b.spec.layers:
            stat, p, null = linear_group_p(hidden, rng, self.n_null_samples)
            return {"p_value": p, "statistic": stat, "vectors": len(hidden), "null_samples": np.round(null, 4),
                    "null_of": HIDDEN_NULL_OF, "method": "exact permutation mean/variance, normal tail"}
        st = pairing.stacks(a, b)
        score = pairing.monotone_path(pairing.similarity(st))[0]
        n = st[0][1].shape[1]
        null = np.array([pairing.monotone_score(pairing.similarity(st, rng.permutation(n)))
                         for _ in range(self.n_null_samples)])
        return {"p_value": fit_normal_p(score, null), "statistic": score, "vectors": len(hidden),
                "null_samples": np.round(null, 4), "null_of": pairing.PATH_SCORE,
                "method": "DP layer alignment, normal fit to MC null (approx.)"}

    def _unit_groups(self, a: Features, b: Features, pairs: list[tuple[int, int]], rng: np.random.Generator,
                     groups: dict[str, dict[str, object]], skipped: list[str]) -> list[Pair]:
        found = collect(a, b, tuple(UNITS), pairs, skipped)
        by_group: dict[str, list[Pair]] = {}
        for p in found:
            by_group.setdefault(f"{UNITS[p.role]}@{p.layer_a}", []).append(p)
        for gname, members in by_group.items():
            stat, pv, _ = linear_group_p(members, rng, self.n_perm if members[0].a.size < MIN_NORMAL_N else 0)
            groups[gname] = {"p_value": pv, "statistic": stat, "vectors": len(members)}
        return found

    def _head_groups(self, a: Features, b: Features, pairs: list[tuple[int, int]], rng: np.random.Generator,
                     groups: dict[str, dict[str, object]], skipped: list[str]) -> list[Pair]:
        shape = _head_shape(a, b)
        found = collect(a, b, HEADS, pairs, skipped) if shape else []
        by_layer: dict[int | None, list[Pair]] = {}
        for p in found:
            by_layer.setdefault(p.layer_a, []).append(p)
        for layer, members in by_layer.items():
            assert shape is not None
            stat, pv = head_group_p(members, shape, rng, self.n_perm)
            groups[f"heads@{layer}"] = {"p_value": pv, "statistic": stat, "vectors": len(members)}
        return found

    def _result(self, groups: dict[str, dict[str, object]], compared: list[Pair], untested: Mapping[str, object],
                skipped: list[str], pairing_how: str) -> Evidence:
        p = fisher_combine([float(g["p_value"]) for g in groups.values()])  # type: ignore[arg-type]
        per_vector = {pr.key: pr.row() for pr in compared}
        mean_rho = float(np.mean([r["spearman"] for r in per_vector.values()]))
        hidden_n = int(groups["hidden"]["vectors"]) if "hidden" in groups else 0  # type: ignore[call-overload]
        summary = (f"{len(compared)} non-constant vectors compared ({hidden_n} in the residual basis); "
                   f"mean Spearman {mean_rho:.3f}; combined p={p:.3g}")
        plots = [*per_layer_plot(per_vector), scatter_plot(compared), *null_plot(groups)]
        for g in groups.values():
            g.pop("null_samples", None)  # drawn from the null plot; the detail keeps the findings
        return self.evidence(
            mean_rho, p, summary, power=Power(len(compared) >= MIN_VECTORS, _power(compared)), plots=plots,
            groups=groups, per_vector=per_vector, untested_q_k_norms=untested,
            skipped=skipped[:200], skipped_count=len(skipped), layer_pairing=pairing_how,
            vectors_compared=len(compared),
        )


def scatter_plot(compared: list[Pair], k: int = SCATTER_VECTORS, cap: int = SCATTER_CAP) -> ScatterPlot:
    """Raw values of the ``k`` vector pairs with the largest |Spearman| (most telling first): at most
    ``cap`` evenly spaced entries each, 5 significant digits."""
    telling = sorted(compared, key=lambda p: -abs(p.row()["spearman"]))[:k]
    panels = []
    for p in telling:
        keep = spread(p.a.size, min(cap, p.a.size))
        panels.append(ScatterPanel(p.key, floats(_sig5(p.a[keep])), floats(_sig5(p.b[keep]))))
    return ScatterPlot("vectors: aligned vector entries, A against B",
                       "Each dot is one entry of an aligned vector; related models fall on a line, "
                       "independent ones form a blob.", tuple(panels))


def per_layer_plot(per_vector: Mapping[str, Mapping[str, float]]) -> list[Plot]:
    """Spearman of each role, layer by layer (x: layer of A)."""
    series: dict[str, list[tuple[float, float]]] = {}
    for key, row in per_vector.items():
        role, _, rest = key.partition("@")
        layer = rest.split("~")[0]
        if layer.isdigit() and math.isfinite(row["spearman"]):
            series.setdefault(role, []).append((float(layer), float(row["spearman"])))
    if not series:
        return []
    top = dict(sorted(series.items(), key=lambda kv: -len(kv[1]))[:MAX_SERIES])
    return [PerLayerPlot("vectors: per-layer correlation of A and B",
                         "Rank correlation of aligned units in each layer (x: layer of A). Independent models "
                         "stay near 0.", {k: tuple(v) for k, v in top.items()}, "Spearman")]


def null_plot(groups: Mapping[str, Mapping[str, object]]) -> list[Plot]:
    """The residual-basis group's null samples with its observed statistic."""
    g = groups.get("hidden")
    if g is None or not len(g.get("null_samples", ())):  # type: ignore[arg-type]
        return []
    what = str(g["null_of"])
    return [NullPlot("vectors: null distribution (hidden)",
                     f"Grey: the {what} under independence (B's channels shuffled). Red: its observed value. "
                     "This is the residual-basis group's statistic, not the mean Spearman in the table.",
                     floats(g["null_samples"]), float(g["statistic"]), what)]  # type: ignore[arg-type]


def _sig5(v: np.ndarray) -> list[float]:
    return [float(f"{x:.5g}") for x in v.tolist()]


def _head_shape(a: Features, b: Features) -> tuple[int, int, int] | None:
    sa, sb = a.spec, b.spec
    shape = (sa.heads, sa.kv_heads or sa.heads, sa.head_dim)
    if None in shape or shape != (sb.heads, sb.kv_heads or sb.heads, sb.head_dim):
        return None
    heads, kv, hd = (int(x) for x in shape)  # type: ignore[arg-type]
    return (heads, kv, hd) if kv > 0 and heads % kv == 0 and (heads > 1) else None


def _power(compared: list[Pair]) -> str:
    if not compared:
        return "no vectors compared"
    n = int(np.median([p.a.size for p in compared]))
    k = len(compared)
    # a shared-ancestry correlation of r in every vector gives z ~ r * sqrt(k * (n - 1)) at best
    r_needed = 4.9 / math.sqrt(max(k * (n - 1), 1))
    return (f"{k} vectors of median length {n}: a lineage correlation of about {r_needed:.2f} across them "
            f"would reach p<1e-6 (if the vectors are not redundant)")


def _why_nothing(skipped: list[str]) -> tuple[str, Exclusion]:
    if not skipped:
        return "the models share no norm or bias vectors", Exclusion.MISSING
    constant = sum(s.endswith("constant") for s in skipped)
    why = Exclusion.NO_SIGNAL if constant == len(skipped) else Exclusion.SHAPES
    return (f"no comparable non-constant vectors ({constant} constant, {len(skipped) - constant} "
            f"size mismatches; e.g. {skipped[0]})", why)
