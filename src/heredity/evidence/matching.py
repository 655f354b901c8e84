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
from heredity.evidence import pairing
from heredity.evidence.align import MAX_TOKENS, HiddenMap, align_channels, align_hidden
from heredity.evidence.base import ReadItem, ReadPlan
from heredity.evidence.features import Features, Wanted
from heredity.evidence.units import (
    UnitMatchingTest,
    agreeing_needed,
    channel_count,
    channel_sample,
    channel_signatures,
    check_channels,
    has_mlp,
    match_prepared,
    match_units,
    mlp_pair,
    sample_layers,
    usable,
)
from heredity.layouts.roles import Role
from heredity.plotdata import PerLayerPlot
from heredity.results import Evidence, Exclusion, Power
from heredity.stats import fisher_combine

MIN_LAYERS = 2  # matching on fewer layers is not enough to call a pair independent


class MatchingTest(UnitMatchingTest):
    """Agreement of two independently derived neuron matchings (permutation-robust): on two disjoint sets
    of hidden channels of ``down`` (default), or on gate vs up rows (``channels=0``, and always when a side
    is a fingerprint, whose sketch keeps gate and up rows)."""

    name = "matching"
    compares = "neuron alignment from two signatures (Hungarian)"

    def __init__(self, seed: int = 0, max_rows: int = 512, max_layers: int = 8, channels: int = 256) -> None:
        super().__init__(seed, max_rows, max_layers)
        self.channels = check_channels(channels)

    def reads(self, a: Features, b: Features) -> ReadPlan:
        """With channel signatures: ``channels`` rows of down in up to ``max_layers`` evenly spaced layers
        of each side; otherwise gate, up and MLP norm of those layers.  Both: the first embedding rows
        (for aligning channels)."""
        note = "layers sampled per side; when depths differ the pairing may pick others"
        k = self._channels_for(a, b)
        if k:
            return ReadPlan(down_reads(a, self.max_layers, k), down_reads(b, self.max_layers, k), note=note)
        return ReadPlan(mlp_reads(a, self.max_layers), mlp_reads(b, self.max_layers), note=note)

    def _channels_for(self, a: Features, b: Features) -> int:
        """Rows of down read per matrix for this pair (0: gate and up rows)."""
        return channel_count(self.channels, a, b, (Role.MLP_DOWN,))

    def run(self, a: Features, b: Features) -> Evidence:
        k = self._channels_for(a, b)
        pairs = self._pairs(a, b, by_channels=k > 0)
        hmap = align_channels(a, b, channel_sample(a.spec.hidden_size or 0, k)) if k else align_hidden(a, b)
        layer = self._channel_layer if k else self._layer
        if k:  # every layer's down rows, asked for at once
            a.prefetch(Wanted(Role.MLP_DOWN, la, rows=hmap.idx_a) for la, _ in pairs)
            b.prefetch(Wanted(Role.MLP_DOWN, lb, rows=hmap.idx_b) for _, lb in pairs)
        rng = np.random.default_rng(self.seed)
        per_layer, skipped = {}, []
        for la, lb in pairs:
            try:
                per_layer[f"{la}~{lb}"] = layer(a, b, la, lb, hmap, rng)
            except NotApplicableError as exc:
                if exc.why != Exclusion.NO_SIGNAL:
                    raise
                skipped.append(f"{la}~{lb}: {exc.message}")
        if not per_layer:
            raise NotApplicableError(f"no layer had usable neurons ({skipped[0]})", Exclusion.NO_SIGNAL)
        signature = (f"rows of down on two disjoint sets of {len(hmap.idx_a) // 2} hidden channels"
                     if k else "gate rows and up rows")
        return self._result(per_layer, hmap, skipped, signature)

    def _pairs(self, a: Features, b: Features, by_channels: bool) -> list[tuple[int, int]]:
        pairs, _ = pairing.layer_pairs(a, b)
        have = [(la, lb) for la, lb in pairs if has_mlp(a, la) and has_mlp(b, lb)]
        if by_channels:
            have = [(la, lb) for la, lb in have if a.has(Role.MLP_DOWN, la) and b.has(Role.MLP_DOWN, lb)]
        if not have:
            fp = a.is_fingerprint or b.is_fingerprint
            raise NotApplicableError("no paired layer has a gated MLP (gate and up) on both sides"
                                     + (" (or in the fingerprint's sketch)" if fp else ""),
                                     Exclusion.FINGERPRINT if fp else Exclusion.STRUCTURE)
        return sample_layers(have, self.max_layers)

    def _layer(self, a: Features, b: Features, la: int, lb: int, hmap: HiddenMap,
               rng: np.random.Generator) -> dict[str, float]:
        ga, ua = mlp_pair(a, la)
        gb, ub = mlp_pair(b, lb)
        if ga.shape[1] != a.spec.hidden_size or gb.shape[1] != b.spec.hidden_size:
            raise NotApplicableError("MLP input width differs from the hidden size", Exclusion.SHAPES)
        out = match_units(hmap.apply_a(ga), hmap.apply_a(ua), hmap.apply_b(gb), hmap.apply_b(ub),
                          rng, self.max_rows)
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in out.items()}

    def _channel_layer(self, a: Features, b: Features, la: int, lb: int, hmap: HiddenMap,
                       rng: np.random.Generator) -> dict[str, float]:
        da, db = a.rows_at(Role.MLP_DOWN, la, hmap.idx_a), b.rows_at(Role.MLP_DOWN, lb, hmap.idx_b)
        if da is None or db is None:
            raise NotApplicableError(f"down rows of layer {la}~{lb} unavailable", Exclusion.NO_SIGNAL)
        db = db * hmap.signs[:, None]
        sa, sb = usable(*channel_signatures(da)), usable(*channel_signatures(db))
        out = match_prepared(*sa, *sb, rng, self.max_rows)
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in out.items()}

    def _result(self, per_layer: dict[str, dict[str, float]], hmap: HiddenMap, skipped: list[str],
                signature: str) -> Evidence:
        p = fisher_combine([v["p_value"] for v in per_layer.values()])
        rho = float(np.mean([v["spearman"] for v in per_layer.values()]))
        agree = float(np.mean([v["agree"] for v in per_layer.values()]))
        rows = int(np.median([v["rows"] for v in per_layer.values()]))
        summary = (f"{len(per_layer)} layers, {rows} neurons each: matchings from {signature} agree on "
                   f"{agree:.1%} of neurons (chance ~{1 / max(rows, 1):.1%}), mean Spearman {rho:.3f}; p={p:.3g}")
        need = agreeing_needed(rows, rows)
        power = (f"{len(per_layer)} layers x {rows} neurons: {need} agreeing neurons ({need / max(rows, 1):.1%}) "
                 f"in a single layer reach p<1e-6")
        return self.evidence(agree, p, summary, power=Power(len(per_layer) >= MIN_LAYERS, power),
                             plots=per_layer_plot(per_layer), statistic_name="mean fraction of neurons matched alike",
                             per_layer=per_layer, hidden_alignment=hmap.method,
                             layers_compared=len(per_layer), mean_spearman=rho, layers_skipped=skipped,
                             signatures=signature)


def per_layer_plot(per_layer: dict[str, dict[str, float]]) -> list[PerLayerPlot]:
    """Spearman of the two matchings in each layer (x: layer of A)."""
    points = tuple((float(k.split("~")[0]), float(v["spearman"])) for k, v in per_layer.items())
    return [PerLayerPlot("matching: per-layer correlation of A and B",
                         "Rank correlation of aligned units in each layer (x: layer of A). Independent models "
                         "stay near 0.", {"per layer": points}, "Spearman")]


def down_reads(f: Features, max_layers: int, channels: int) -> tuple[ReadItem, ...]:
    """``channels`` rows of down in ``max_layers`` evenly spaced MLP layers, plus the first embedding rows."""
    layers = f.layers_with(Role.MLP_GATE)
    picked = tuple(x for x, _ in sample_layers([(x, x) for x in layers], max_layers))
    return ReadItem(Role.MLP_DOWN, picked, rows=channels), ReadItem(Role.EMBED, rows=MAX_TOKENS)


def mlp_reads(f: Features, max_layers: int) -> tuple[ReadItem, ...]:
    """Gate, up and norm of ``max_layers`` evenly spaced MLP layers, plus the first embedding rows."""
    layers = f.layers_with(Role.MLP_GATE)
    picked = tuple(x for x, _ in sample_layers([(x, x) for x in layers], max_layers))
    items = [ReadItem(r, picked) for r in (Role.MLP_GATE, Role.MLP_UP, Role.MLP_NORM)]
    return (*items, ReadItem(Role.EMBED, rows=MAX_TOKENS))
