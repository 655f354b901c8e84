"""The engine attaches what the HTML report plots: real comparisons, not hand-made payloads."""

from __future__ import annotations

import numpy as np
from evidence_toys import Toy, finetune, make, to_model

from heredity.compare import compare
from heredity.evidence.layers import LayersTest
from heredity.evidence.vectors import Pair, VectorsTest, scatter_plot
from heredity.layouts.roles import Role
from heredity.plotdata import NullPlot, ScatterPlot
from heredity.report.figures import figures_for
from heredity.report.html import render
from heredity.results import Comparison

TOY = Toy(biases=True)


def _svg_titles(c: Comparison) -> dict[str, bool]:
    return {f.title: f.svg is not None for f in figures_for(c)}


def test_real_compare_html_has_vector_scatter() -> None:
    base = make(TOY, 1)
    c = compare(to_model(base, TOY), to_model(finetune(base, 3), TOY), tests=[VectorsTest()])
    scatter = next(p for p in c.evidence[0].plots if isinstance(p, ScatterPlot))
    assert 1 <= len(scatter.panels) <= 4
    per_vector = c.evidence[0].detail["per_vector"]
    rhos = [abs(per_vector[p.label]["spearman"]) for p in scatter.panels]
    assert rhos == sorted(rhos, reverse=True)  # most telling first
    assert _svg_titles(c).get("vectors: aligned vector entries, A against B") is True
    assert "aligned vector entries" in render(c)


def test_scatter_cap_and_rounding() -> None:
    rng = np.random.default_rng(0)
    pairs = [Pair(Role.ATTN_NORM, i, i, rng.normal(size=10_000), rng.normal(size=10_000)) for i in range(6)]
    pairs[5].b = pairs[5].a * 2 + 0.01 * pairs[5].b  # the telling one
    got = scatter_plot(pairs)
    assert len(got.panels) == 4 and got.panels[0].label == pairs[5].key
    first = got.panels[0]
    assert len(first.a) == len(first.b) == 4096
    assert first.a[0] == float(f"{pairs[5].a[0]:.5g}") and first.a[-1] == float(f"{pairs[5].a[-1]:.5g}")


def _layers(related: bool) -> Comparison:
    base = make(TOY, 1)
    other = finetune(base, 3) if related else make(TOY, 2)
    return compare(to_model(base, TOY), to_model(other, TOY), tests=[LayersTest()])


def test_layers_null_and_observed_are_one_quantity() -> None:
    for related in (False, True):
        c = _layers(related)
        ev = c.evidence[0]
        null_plot = next(p for p in ev.plots if isinstance(p, NullPlot))
        null, observed = np.array(null_plot.samples), null_plot.observed
        assert observed == ev.detail["score"] and null_plot.quantity.startswith("alignment score")
        # same scale: an independent pair sits inside its null, a fine-tune far above it
        z = (observed - null.mean()) / null.std()
        assert (z > 5) if related else (abs(z) < 4), (related, z)
        fig = next(f for f in figures_for(c) if f.title == "layers: null distribution")
        assert fig.svg is not None and "alignment score" in fig.caption and "alignment score" in fig.svg
