"""The engine stores what the HTML report plots: real comparisons, not hand-made details."""

from __future__ import annotations

import numpy as np
from evidence_toys import Toy, finetune, make, to_model

from heredity.compare import compare
from heredity.evidence.vectors import Pair, scatter_pairs
from heredity.layouts.roles import Role
from heredity.report.figures import figures_for
from heredity.report.html import render
from heredity.results import Comparison

TOY = Toy(biases=True)


def _svg_titles(c: Comparison) -> dict[str, bool]:
    return {f.title: f.svg is not None for f in figures_for(c)}


def test_real_compare_html_has_vector_scatter() -> None:
    base = make(TOY, 1)
    c = compare(to_model(base, TOY), to_model(finetune(base, 3), TOY), tests=["vectors"])
    vectors = c.evidence[0].detail["vectors"]
    assert 1 <= len(vectors) <= 4
    per_vector = c.evidence[0].detail["per_vector"]
    rhos = [abs(per_vector[k]["spearman"]) for k in vectors]
    assert rhos == sorted(rhos, reverse=True)  # most telling first
    assert _svg_titles(c).get("vectors: aligned vector entries, A against B") is True
    assert "aligned vector entries" in render(c)


def test_scatter_pairs_cap_and_rounding() -> None:
    rng = np.random.default_rng(0)
    pairs = [Pair(Role.ATTN_NORM, i, i, rng.normal(size=10_000), rng.normal(size=10_000)) for i in range(6)]
    pairs[5].b = pairs[5].a * 2 + 0.01 * pairs[5].b  # the telling one
    got = scatter_pairs(pairs)
    assert len(got) == 4 and next(iter(got)) == pairs[5].key
    first = got[pairs[5].key]
    assert len(first["a"]) == len(first["b"]) == 4096
    assert first["a"][0] == float(f"{pairs[5].a[0]:.5g}") and first["a"][-1] == float(f"{pairs[5].a[-1]:.5g}")


def _layers(related: bool) -> Comparison:
    base = make(TOY, 1)
    other = finetune(base, 3) if related else make(TOY, 2)
    return compare(to_model(base, TOY), to_model(other, TOY), tests=["layers"])


def test_layers_null_and_observed_are_one_quantity() -> None:
    for related in (False, True):
        c = _layers(related)
        detail = c.evidence[0].detail
        null, observed = np.array(detail["null_scores"]), detail["observed"]
        assert observed == detail["score"] and detail["null_of"].startswith("alignment score")
        # same scale: an independent pair sits inside its null, a fine-tune far above it
        z = (observed - null.mean()) / null.std()
        assert (z > 5) if related else (abs(z) < 4), (related, z)
        fig = next(f for f in figures_for(c) if f.title == "layers: null distribution")
        assert fig.svg is not None and "alignment score" in fig.caption and "alignment score" in fig.svg
