"""`experts`: lineage through mixture-of-experts layers.

* **MoE vs dense** (upcycling, e.g. a dense FFN copied or sliced into experts): each sampled expert's
  neurons are matched to the dense FFN's neurons with the `matching` procedure (two independently
  derived assignments must agree beyond chance: by default from rows of down on two disjoint sets of
  hidden channels, :func:`heredity.evidence.units.channel_signatures`; with ``channels=0`` from gate
  and up rows).  Copies agree on nearly all neurons; fine-grained slices
  (expert width < dense width) agree on the sliced neurons, since rows are taken from the narrower side.
* **MoE vs MoE**: each sampled expert of A is matched against all experts of B stacked together, so
  relabelled experts are found wherever they are.
* **Upcycling signature** (descriptive, about each MoE side alone): pairs of experts in one layer that
  are near-copies of each other (within each group for MoGE).

Per-(layer, expert) p-values share the dense side, so they are combined with the Cauchy method, which
stays valid under dependence.
"""

from __future__ import annotations

import numpy as np

from heredity.errors import NotApplicableError
from heredity.evidence import pairing
from heredity.evidence.align import MAX_TOKENS, HiddenMap, align_channels, align_hidden
from heredity.evidence.base import EvidenceTest, ReadItem, ReadPlan
from heredity.evidence.features import Features, Wanted, require_weights
from heredity.evidence.units import (
    agreeing_needed,
    channel_count,
    channel_sample,
    channel_signatures,
    check_channels,
    match_prepared,
    match_units,
    mlp_pair,
    sample_layers,
    usable,
)
from heredity.layouts.roles import Role
from heredity.plotdata import HeatmapPlot
from heredity.results import Evidence, Exclusion, Power
from heredity.stats import cauchy_combine, spread

MAX_STACKED_ROWS = 65536  # MoE vs MoE: cap on B's stacked expert rows
MIN_EXPERTS = 2  # this many (layer, expert) matches make the test powerful on the main weights


def expert_ids(f: Features, layer: int) -> list[int]:
    n = f.spec.experts or 0
    return [e for e in range(n) if f.has(Role.EXPERT_GATE, layer, e) and f.has(Role.EXPERT_UP, layer, e)]


def expert_pair(f: Features, layer: int, e: int) -> tuple[np.ndarray, np.ndarray]:
    return f.matrix(Role.EXPERT_GATE, layer, e), f.matrix(Role.EXPERT_UP, layer, e)


def is_moe(f: Features) -> bool:
    return bool(f.spec.experts) and bool(f.layers_with(Role.EXPERT_GATE))


def pick(ids: list[int], k: int) -> list[int]:
    if len(ids) <= k:
        return ids
    return [ids[i] for i in spread(len(ids), k)]


class ExpertsTest(EvidenceTest):
    """Experts matched to a dense FFN or to another model's experts; upcycling signature."""

    name = "experts"
    compares = "MoE experts against the dense FFN"
    needs_weights = True

    def __init__(self, seed: int = 0, max_rows: int = 256, max_layers: int = 4, max_experts: int = 4,
                 channels: int = 256) -> None:
        super().__init__(seed)
        if min(max_rows, max_layers, max_experts) < 1:
            raise ValueError("max_rows, max_layers and max_experts must be >= 1")
        self.max_rows, self.max_layers, self.max_experts = int(max_rows), int(max_layers), int(max_experts)
        self.channels = check_channels(channels)

    def reads(self, a: Features, b: Features) -> ReadPlan:
        """Of ``max_experts`` experts in ``max_layers`` layers of the MoE side, and of the other side's
        dense MLP (or all its experts) in as many layers: ``channels`` rows of down (or, with
        ``channels=0``, gate and up); the first embedding rows of both."""
        if a.is_fingerprint or b.is_fingerprint or not (is_moe(a) or is_moe(b)):
            return ReadPlan()
        k = self._channel_count(a, b)
        return ReadPlan(self._side(a, k), self._side(b, k), note="layers sampled per side")

    def _channel_count(self, a: Features, b: Features) -> int:
        """Channels of down read per matrix (0: gate and up rows instead)."""
        return channel_count(self.channels, a, b, (Role.EXPERT_DOWN, Role.MLP_DOWN))

    def _side(self, f: Features, channels: int) -> tuple[ReadItem, ...]:
        embed = ReadItem(Role.EMBED, rows=MAX_TOKENS)
        layers = f.layers_with(Role.EXPERT_GATE) or f.layers_with(Role.MLP_GATE)
        picked = tuple(x for x, _ in sample_layers([(x, x) for x in layers], self.max_layers))
        if not is_moe(f):
            if channels:
                return ReadItem(Role.MLP_DOWN, picked, rows=channels), embed
            return (*(ReadItem(r, picked) for r in (Role.MLP_GATE, Role.MLP_UP, Role.MLP_NORM)), embed)
        experts = tuple(pick(list(range(f.spec.experts or 0)), self.max_experts))
        if channels:
            return ReadItem(Role.EXPERT_DOWN, picked, rows=channels, experts=experts), embed
        return (*(ReadItem(r, picked, experts=experts) for r in (Role.EXPERT_GATE, Role.EXPERT_UP)), embed)

    def run(self, a: Features, b: Features) -> Evidence:
        require_weights(a, "experts")
        require_weights(b, "experts")
        if not (is_moe(a) or is_moe(b)):
            raise NotApplicableError("neither model has experts", Exclusion.STRUCTURE)
        swapped = not is_moe(a)
        moe, other = (b, a) if swapped else (a, b)
        pairs = [(lb, la) if swapped else (la, lb) for la, lb in pairing.layer_pairs(a, b)[0]]
        pairs = [(lm, lo) for lm, lo in pairs if expert_ids(moe, lm)]
        k = self._channel_count(moe, other)
        hmap = (align_channels(moe, other, channel_sample(moe.spec.hidden_size or 0, k)) if k
                else align_hidden(moe, other))
        rng = np.random.default_rng(self.seed)
        cross = self._cross_channels if k else self._cross
        rows = cross(moe, other, sample_layers(pairs, self.max_layers), hmap, rng)
        if not rows:
            raise NotApplicableError("no paired layer has experts on one side and an MLP or experts on the other",
                                     Exclusion.STRUCTURE)
        return self._result(rows, moe, other, swapped, hmap, rng)

    def _cross(self, moe: Features, other: Features, pairs: list[tuple[int, int]], hmap: HiddenMap,
               rng: np.random.Generator) -> dict[str, dict[str, float]]:
        out = {}
        for lm, lo in pairs:
            target = self._target(other, lo)
            if target is None:
                continue
            gb, ub = hmap.apply_b(target[0]), hmap.apply_b(target[1])
            for e in pick(expert_ids(moe, lm), self.max_experts):
                ga, ua = expert_pair(moe, lm, e)
                try:
                    r = match_units(hmap.apply_a(ga), hmap.apply_a(ua), gb, ub, rng, self.max_rows)
                except NotApplicableError as exc:
                    if exc.why != Exclusion.NO_SIGNAL:
                        raise
                    continue  # an expert (or a dense FFN) with no usable neurons is left out
                out[f"{lm}#{e}~{lo}"] = {k: round(float(v), 6) for k, v in r.items()}
        return out

    def _cross_channels(self, moe: Features, other: Features, pairs: list[tuple[int, int]], hmap: HiddenMap,
                        rng: np.random.Generator) -> dict[str, dict[str, float]]:
        """:meth:`_cross` on down-row channel signatures."""
        out = {}
        for lm, lo in pairs:  # every read below, asked for at once
            if other.has(Role.MLP_DOWN, lo):  # (an MoE's experts are stacked only as far as they fit)
                other.prefetch([Wanted(Role.MLP_DOWN, lo, rows=hmap.idx_b)])
            moe.prefetch(Wanted(Role.EXPERT_DOWN, lm, e, rows=hmap.idx_a)
                         for e in pick(expert_ids(moe, lm), self.max_experts))
        for lm, lo in pairs:
            target = self._down_target(other, lo, hmap)
            if target is None:
                continue
            sb = usable(*channel_signatures(target))
            for e in pick(expert_ids(moe, lm), self.max_experts):
                da = moe.rows_at(Role.EXPERT_DOWN, lm, hmap.idx_a, expert=e)
                if da is None:
                    continue
                try:
                    r = match_prepared(*usable(*channel_signatures(da)), *sb, rng, self.max_rows)
                except NotApplicableError as exc:
                    if exc.why != Exclusion.NO_SIGNAL:
                        raise
                    continue
                out[f"{lm}#{e}~{lo}"] = {k: round(float(v), 6) for k, v in r.items()}
        return out

    def _down_target(self, f: Features, layer: int, hmap: HiddenMap) -> np.ndarray | None:
        """The other side's down rows at the mapped channels: its dense MLP's, or all its experts' side by
        side (``[channels, neurons]``)."""
        signs = hmap.signs[:, None]
        if f.has(Role.MLP_DOWN, layer):
            rows = f.rows_at(Role.MLP_DOWN, layer, hmap.idx_b)
            return None if rows is None else rows * signs
        parts, total = [], 0
        for e in (e for e in range(f.spec.experts or 0) if f.has(Role.EXPERT_DOWN, layer, e)):
            rows = f.rows_at(Role.EXPERT_DOWN, layer, hmap.idx_b, expert=e)
            if rows is None or total + rows.shape[1] > MAX_STACKED_ROWS:
                break
            parts.append(rows)
            total += rows.shape[1]
        return np.concatenate(parts, axis=1) * signs if parts else None

    def _target(self, f: Features, layer: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The other side's rows: its dense MLP, or all its experts stacked."""
        if f.has(Role.MLP_GATE, layer) and f.has(Role.MLP_UP, layer):
            return mlp_pair(f, layer)
        ids = expert_ids(f, layer)
        if not ids:
            return None
        gs, us, total = [], [], 0
        for e in ids:
            g, u = expert_pair(f, layer, e)
            if total + g.shape[0] > MAX_STACKED_ROWS:
                break
            gs.append(g)
            us.append(u)
            total += g.shape[0]
        return np.concatenate(gs), np.concatenate(us)

    def _result(self, rows: dict[str, dict[str, float]], moe: Features, other: Features, swapped: bool,
                hmap: HiddenMap, rng: np.random.Generator) -> Evidence:
        p = cauchy_combine([r["p_value"] for r in rows.values()])
        agree = float(np.mean([r["agree"] for r in rows.values()]))
        kind = "MoE vs MoE" if is_moe(other) else "MoE vs dense"
        side = "B" if swapped else "A"
        summary = (f"{kind}: {len(rows)} experts of {side} matched; their two neuron matchings agree on {agree:.1%} "
                   f"of neurons; p={p:.3g}")
        return self.evidence(agree, p, summary, power=Power(len(rows) >= MIN_EXPERTS, _power(rows)),
                             plots=[match_map(rows, kind, side)], per_expert=rows, kind=kind, moe_side=side,
                             hidden_alignment=hmap.method, upcycling=self._upcycling(moe, rng))

    def _expert_vs_expert(self, f: Features, layer: int, e1: int, e2: int, rng: np.random.Generator) -> dict[str, float]:
        """Two experts of one model matched neuron to neuron (one basis: no alignment)."""
        k = self._channel_count(f, f)
        if k:
            chans = channel_sample(f.spec.hidden_size or 0, k)
            return match_prepared(*usable(*channel_signatures(_expert_rows(f, layer, e1, chans))),
                                  *usable(*channel_signatures(_expert_rows(f, layer, e2, chans))), rng, self.max_rows)
        ga, ua = expert_pair(f, layer, e1)
        gb, ub = expert_pair(f, layer, e2)
        return match_units(ga, ua, gb, ub, rng, self.max_rows)

    def _upcycling(self, f: Features, rng: np.random.Generator) -> dict[str, object]:
        """Are experts in one layer near-copies of each other (within a group for MoGE)?"""
        layers = f.layers_with(Role.EXPERT_GATE)
        if not layers:
            return {}
        layer = layers[len(layers) // 2]
        ids = expert_ids(f, layer)
        groups = f.spec.expert_groups or 1
        per_group = max(len(ids) // groups, 1)
        found = {}
        for g in range(groups):
            members = ids[g * per_group:(g + 1) * per_group]
            if len(members) >= 2:
                try:
                    r = self._expert_vs_expert(f, layer, members[0], members[1], rng)
                except NotApplicableError:
                    continue
                found[f"group{g}:{members[0]}~{members[1]}"] = {"agree": round(r["agree"], 4),
                                                               "p_value": r["p_value"]}
        copies = any(v["p_value"] < 1e-6 for v in found.values())
        return {"layer": layer, "pairs": found, "experts_are_copies": copies}


def _expert_rows(f: Features, layer: int, e: int, chans: np.ndarray) -> np.ndarray:
    rows = f.rows_at(Role.EXPERT_DOWN, layer, chans, expert=e)
    if rows is None:
        raise NotApplicableError(f"down rows of expert {e} unavailable", Exclusion.NO_SIGNAL)
    return rows


def _power(rows: dict[str, dict[str, float]]) -> str:
    """How many agreeing neurons in one expert would reach the related threshold on their own."""
    n = int(np.median([r["rows"] for r in rows.values()]))
    wide = int(np.median([r["wide"] for r in rows.values()]))
    # the Cauchy combination of k p-values is at most k times the smallest one
    target = 1e-6 / max(len(rows), 1)
    need = agreeing_needed(n, wide, target)
    return (f"{len(rows)} experts x {n} neurons matched into {wide}: {need} agreeing neurons "
            f"({need / max(n, 1):.1%}) in a single expert reach p<1e-6")


def match_map(rows: dict[str, dict[str, float]], kind: str, side: str) -> HeatmapPlot:
    """Layer x expert map of the share of neurons whose two matchings agree (NaN: not sampled)."""
    cells: dict[tuple[int, int], float] = {}
    for key, r in rows.items():
        layer, _, expert = key.split("~")[0].partition("#")
        cells[(int(layer), int(expert))] = float(r["agree"])
    layers = sorted({k[0] for k in cells})
    experts = sorted({k[1] for k in cells})
    matrix = tuple(tuple(cells.get((la, e), float("nan")) for e in experts) for la in layers)
    return HeatmapPlot(f"experts: expert match map ({kind})",
                       f"Share of neurons of each sampled expert of {side} whose two neuron matchings "
                       "to the other model agree (blank: not sampled). Copies and slices of a dense FFN light up.",
                       matrix, "expert", "layer", "agreement", x_ticks=tuple(str(e) for e in experts),
                       y_ticks=tuple(str(la) for la in layers), value_range=(0.0, 1.0))
