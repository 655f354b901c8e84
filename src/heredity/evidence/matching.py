"""`matching`: do two weight families agree on which neuron of A is which neuron of B?

After Zhu et al. 2025 ("Independence testing for language models").  For each paired layer, MLP
neurons of A are matched to neurons of B by an optimal assignment (Hungarian, cost ``-|cos|``) twice:
once on gate rows, once on up rows, both in A's residual basis (:mod:`heredity.evidence.align`).  If B
descends from A, both assignments recover the same neuron correspondence; if the models are independent,
each assignment is noise and the two are unrelated.

Statistic: the number of neurons on which the two assignments agree exactly.  Zhu et al. use the
Spearman correlation of the two assignments; we report it per layer, but do not test with it: B's
neuron labels are arbitrary, so how *close* two wrong indices are is label noise (on two real
independent models it produced a per-layer p of 0.003), while the agreement count does not depend on
B's labelling at all and is far more powerful (10% agreement among 512 neurons gives p ~ 1e-67).

Null, and what it assumes: the two assignments are independent uniform one-to-one maps, so agreements
are nearly Poisson with mean ``rows / cols`` (:func:`heredity.stats.agreement_p`).  That holds when B's
gate and up rows carry no common structure that A's also carries.  Two things could break it, and both
are removed before matching:

* a direction shared by all rows (outlier channels): every matrix has its mean row subtracted;
* per-neuron coupling of gate and up (a neuron's up row partly parallel to its gate row, as training
  tends to make it): each up row is replaced by its component orthogonal to the same neuron's gate row.

The remaining assumption is checked on independent pairs (random inits with coupled structure, forge
models with different seeds, and two real independently trained models): docs/LOG.md.

Rows are sampled from the narrower side (``max_rows``) and matched into all rows of the wider side, so
pruned widths work and cost stays bounded; layers are sampled evenly (``max_layers``).
"""

from __future__ import annotations

import numpy as np

from heredity.errors import NotApplicableError
from heredity.evidence import layers as layers_mod
from heredity.evidence.align import HiddenMap, align_hidden
from heredity.evidence.base import EvidenceTest
from heredity.evidence.features import Features, role_key
from heredity.evidence.registry import register
from heredity.fingerprint.model import Fingerprint
from heredity.layouts.roles import Role
from heredity.results import Evidence
from heredity.stats import agreement_p, fisher_combine, hungarian, spearman, spearman_perm_p


def prepare(gate: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre over neurons, decouple up from gate per neuron, unit-normalise rows."""
    g = gate.astype(np.float32) - gate.mean(axis=0, keepdims=True)
    u = up.astype(np.float32) - up.mean(axis=0, keepdims=True)
    gg = np.einsum("ij,ij->i", g, g)
    coef = np.einsum("ij,ij->i", u, g) / np.where(gg > 0, gg, 1.0)
    u = u - coef[:, None] * g
    return _unit_rows(g), _unit_rows(u)


def _unit_rows(w: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(w, axis=1, keepdims=True)
    return w / np.where(n > 0, n, 1.0)


def assign(rows_small: np.ndarray, rows_wide: np.ndarray) -> np.ndarray:
    """For each row of ``rows_small``, the index of its row in ``rows_wide`` (optimal, one-to-one)."""
    return hungarian(-np.abs(rows_small @ rows_wide.T))


def match_units(ga: np.ndarray, ua: np.ndarray, gb: np.ndarray, ub: np.ndarray, rng: np.random.Generator,
                max_rows: int) -> dict[str, float]:
    """Match neurons of A and B on gate and on up rows (already in one hidden basis); compare the two."""
    ga, ua = prepare(ga, ua)
    gb, ub = prepare(gb, ub)
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
    """Gate and up available (for a fingerprint: in its matching sketch)."""
    if isinstance(f, Fingerprint):
        return all(role_key(r, layer) in f.rows for r in (Role.MLP_GATE, Role.MLP_UP))
    return f.has(Role.MLP_GATE, layer) and f.has(Role.MLP_UP, layer)


def mlp_pair(f: Features, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """Gate and up of one layer with the MLP norm folded in (``[neurons, hidden]``); a fingerprint
    gives the first neurons its sketch kept."""
    if isinstance(f, Fingerprint):
        gate, up = f.sketch(Role.MLP_GATE, layer), f.sketch(Role.MLP_UP, layer)
    else:
        gate, up = f.matrix(Role.MLP_GATE, layer), f.matrix(Role.MLP_UP, layer)
    if f.has(Role.MLP_NORM, layer):
        norm = f.vector(Role.MLP_NORM, layer)
        if norm.size == gate.shape[1]:
            gate, up = gate * norm[None, :], up * norm[None, :]
    return gate, up


def sample_layers(pairs: list[tuple[int, int]], max_layers: int) -> list[tuple[int, int]]:
    if len(pairs) <= max_layers:
        return pairs
    idx = np.unique(np.round(np.linspace(0, len(pairs) - 1, max_layers)).astype(int))
    return [pairs[i] for i in idx]


@register
class MatchingTest(EvidenceTest):
    """Agreement of gate-derived and up-derived neuron matchings (permutation-robust)."""

    name = "matching"

    def __init__(self, seed: int = 0, max_rows: int = 512, max_layers: int = 8) -> None:
        super().__init__(seed)
        self.max_rows = max_rows
        self.max_layers = max_layers

    def run(self, a: Features, b: Features) -> Evidence:
        pairs = self._pairs(a, b)
        hmap = align_hidden(a, b)
        rng = np.random.default_rng(self.seed)
        per_layer = {f"{la}~{lb}": self._layer(a, b, la, lb, hmap, rng) for la, lb in pairs}
        return self._result(per_layer, hmap)

    def _pairs(self, a: Features, b: Features) -> list[tuple[int, int]]:
        pairs, _ = layers_mod.layer_pairs(a, b)
        have = [(la, lb) for la, lb in pairs if has_mlp(a, la) and has_mlp(b, lb)]
        if not have:
            raise NotApplicableError("no paired layer has a gated MLP (gate and up) on both sides"
                                     + (" (or in the fingerprint's sketch)" if a.is_fingerprint or b.is_fingerprint
                                        else ""))
        return sample_layers(have, self.max_layers)

    def _layer(self, a: Features, b: Features, la: int, lb: int, hmap: HiddenMap,
               rng: np.random.Generator) -> dict[str, float]:
        ga, ua = mlp_pair(a, la)
        gb, ub = mlp_pair(b, lb)
        if ga.shape[1] != a.spec.hidden_size or gb.shape[1] != b.spec.hidden_size:
            raise NotApplicableError("MLP input width differs from the hidden size")
        out = match_units(hmap.apply_a(ga), hmap.apply_a(ua), hmap.apply_b(gb), hmap.apply_b(ub),
                          rng, self.max_rows)
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in out.items()}

    def _result(self, per_layer: dict[str, dict[str, float]], hmap: HiddenMap) -> Evidence:
        p = fisher_combine([v["p_value"] for v in per_layer.values()])
        rho = float(np.mean([v["spearman"] for v in per_layer.values()]))
        agree = float(np.mean([v["agree"] for v in per_layer.values()]))
        rows = int(np.median([v["rows"] for v in per_layer.values()]))
        summary = (f"{len(per_layer)} layers, {rows} neurons each: gate- and up-based matchings agree on "
                   f"{agree:.1%} of neurons (chance ~{1 / max(rows, 1):.1%}), mean Spearman {rho:.3f}; p={p:.3g}")
        need = next(c for c in range(1, rows + 2) if c > rows or agreement_p(c, rows, rows) < 1e-6)
        power = (f"{len(per_layer)} layers x {rows} neurons: {need} agreeing neurons ({need / max(rows, 1):.1%}) "
                 f"in a single layer reach p<1e-6")
        return self.evidence(agree, p, summary, statistic_name="mean fraction of neurons matched alike",
                             per_layer=per_layer, hidden_alignment=hmap.method, power=power,
                             layers_compared=len(per_layer), mean_spearman=rho)
