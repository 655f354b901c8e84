"""`layers`: which layer of A corresponds to which layer of B.

The layer x layer similarity and its best monotone alignment come from :mod:`.pairing` (which the other
tests use to pair layers when depths differ); this test reports them, with a permutation null for the
alignment score: permuting B's channels with one random permutation breaks every layer at once.

The p-value here is a normal fit to Monte-Carlo null scores of the DP optimum (approximate), so the
test is descriptive: the `vectors` test carries the same signal with an exact-variance null.
"""

from __future__ import annotations

import numpy as np

from heredity.errors import NotApplicableError
from heredity.evidence.base import EvidenceTest, ReadItem, ReadPlan
from heredity.evidence.features import Features
from heredity.evidence.pairing import (
    LAYER_HIDDEN_ROLES,
    PATH_SCORE,
    Similarity,
    monotone_path,
    monotone_score,
    stacks,
)
from heredity.plotdata import HeatmapPlot, NullPlot, floats
from heredity.results import Evidence, Exclusion, Power
from heredity.stats import fit_normal_p


class LayersTest(EvidenceTest):
    """Layer-to-layer similarity matrix and its best monotone alignment."""

    name = "layers"
    compares = "which layer of A matches which layer of B"
    descriptive = True

    def __init__(self, seed: int = 0, n_perm: int = 200) -> None:
        super().__init__(seed)
        if n_perm < 1:
            raise ValueError("n_perm must be >= 1")
        self.n_perm = int(n_perm)

    def reads(self, a: Features, b: Features) -> ReadPlan:
        """The residual-stream vectors of every layer."""
        def side(f: Features) -> tuple[ReadItem, ...]:
            return tuple(ReadItem(r, tuple(f.layers_with(r))) for r in LAYER_HIDDEN_ROLES if f.layers_with(r))

        return ReadPlan(side(a), side(b))

    def run(self, a: Features, b: Features) -> Evidence:
        st = stacks(a, b)
        if not st:
            raise NotApplicableError("no non-constant residual-stream vectors of one size in both models",
                                     Exclusion.NO_SIGNAL)
        similar = Similarity(st)
        sim = similar()
        score, path = monotone_path(sim)
        rng = np.random.default_rng(self.seed)
        n = st[0][1].shape[1]
        perms = [rng.permutation(n) for _ in range(self.n_perm)]
        null = np.array([monotone_score(s) for s in similar.many(perms)])
        p = fit_normal_p(score, null)
        on_path = float(np.mean([sim[i, j] for i, j in path])) if path else 0.0
        plots = [
            HeatmapPlot("layers: layer similarity", "Brighter cells: more similar layers. Red: the alignment "
                        "found (dropped or repeated layers show as steps).",
                        tuple(floats(r) for r in np.round(sim, 4)), "layer of B", "layer of A", "similarity",
                        path=tuple((int(i), int(j)) for i, j in path)),
            NullPlot("layers: null distribution", f"Grey: the {PATH_SCORE} under independence (B's channels "
                     "shuffled). Red: its observed value (not the mean Spearman on the path in the table).",
                     floats(np.round(null, 4)), float(score), PATH_SCORE),
        ]
        return self.evidence(
            on_path, p,
            f"{len(path)} layer pairs aligned; mean Spearman on the path {on_path:.3f} "
            f"(null score {null.mean():.2f}±{null.std():.2f}, observed {score:.2f})",
            power=Power(False, "descriptive: its p-value is an approximate normal fit, so it never decides"),
            plots=plots, path=path, score=score, null_of=PATH_SCORE,
            roles=[r.value for r, _, _ in st], p_value_method="normal fit to Monte-Carlo null (approximate)",
        )
