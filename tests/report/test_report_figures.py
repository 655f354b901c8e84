"""Which figures a comparison yields, and how missing data is explained."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import report_samples  # noqa: E402

from heredity.report import figures  # noqa: E402
from heredity.results import Evidence  # noqa: E402


def test_every_kind_of_figure_is_drawn() -> None:
    got = [(f.test, f.title) for f in figures.figures_for(report_samples.comparison()) if f.svg]
    assert ("attn_std", "attn_std: per-layer curves of A and B") in got
    assert ("vectors", "vectors: aligned vector entries, A against B") in got
    assert ("layers", "layers: layer similarity") in got
    assert {t for t, title in got if "null distribution" in title} == {"vectors", "matching", "attn_std"}


def test_expert_match_map() -> None:
    ev = Evidence("experts", True, 0.9, 1e-5, detail={"match": [[0.9, 0.1], [0.1, 0.8], [0.2, None]]})
    (fig,) = figures.figures_for(report_samples.comparison(evidence=(ev,)))
    assert fig.title == "experts: expert-to-dense match" and fig.svg and "<svg" in fig.svg


def test_null_uses_raw_score_when_given() -> None:
    ev = Evidence("layers", True, 0.3, 0.01, detail={"null_scores": [0.0, 0.1, 0.2] * 5, "score": 4.25})
    fig = figures.null_figure(ev)
    assert fig is not None and fig.svg is not None and "observed 4.25" in fig.svg


def test_scatter_orders_by_layer_p_value() -> None:
    vectors = {f"attn_norm/{i}": {"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0, 3.0]} for i in range(5)}
    layers = [{"role": "attn_norm", "layer": i, "p_value": 1.0 - i / 10} for i in range(5)]
    fig = figures.scatter_figure(Evidence("vectors", True, 0.9, 1e-3, detail={"vectors": vectors, "layers": layers}))
    assert fig is not None and fig.svg is not None
    assert "attn_norm/4" in fig.svg and "attn_norm/2" in fig.svg and "attn_norm/0" not in fig.svg


def test_not_applicable_tests_have_no_figures_and_silent_tests_a_note() -> None:
    comp = report_samples.comparison(evidence=(Evidence("experts", False, reason="dense"), Evidence("identical", True, 0.0, 1.0)))
    (fig,) = figures.figures_for(comp)
    assert fig.test == "identical" and fig.svg is None and "no plot data" in fig.note


def test_svgs_are_deterministic_and_ids_unique() -> None:
    one = [f.svg for f in figures.figures_for(report_samples.comparison())]
    two = [f.svg for f in figures.figures_for(report_samples.comparison())]
    assert one == two
    import re

    ids = [i for svg in one if svg for i in re.findall(r'\bid="([^"]+)"', svg)]
    assert len(ids) == len(set(ids))


def test_null_found_inside_groups() -> None:
    detail = {"groups": {"mlp@0": {"statistic": 0.1}, "hidden": {"statistic": 7.5, "null_samples": [0.0, 1.0, -1.0] * 4}}}
    fig = figures.null_figure(Evidence("vectors", True, 0.9, 1e-3, detail=detail))
    assert fig is not None and fig.svg is not None
    assert fig.title == "vectors: null distribution (hidden)" and "observed 7.5" in fig.svg


def test_wide_vectors_are_strided_to_keep_svg_small() -> None:
    from heredity.report import plots

    wide = [float(i % 97) for i in range(20_000)]
    svg = plots.vector_scatter([("hidden", wide, wide)], "wide")
    assert svg.count("<use ") <= plots.MAX_POINTS + 50


def test_per_layer_from_vectors_and_matching_details() -> None:
    per_vector = {f"{r}@{i}": {"pearson": 0.5, "spearman": 0.1 * i} for r in ("attn_norm", "mlp_norm") for i in range(4)}
    per_vector["final_norm"] = {"spearman": 0.9}  # no layer: left out of the curves
    fig = figures.per_layer_figure(Evidence("vectors", True, 0.9, 1e-3, detail={"per_vector": per_vector}))
    assert fig is not None and fig.svg is not None and "attn_norm" in fig.svg and "mlp_norm" in fig.svg
    per_layer = {"0~0": {"spearman": 0.9, "p_value": 1e-9}, "3~5": {"spearman": 0.8}}
    fig = figures.per_layer_figure(Evidence("matching", True, 0.9, 1e-3, detail={"per_layer": per_layer}))
    assert fig is not None and fig.svg is not None
    bad = figures.per_layer_figure(Evidence("matching", True, 0.9, 1e-3, detail={"per_layer": {"x": 1}}))
    assert bad is not None and bad.svg is None


def test_numpy_detail_values_are_plotted() -> None:
    import numpy as np

    ev = Evidence("layers", True, 0.1, 0.5, detail={"similarity": np.eye(3), "path": [(0, 0), (1, 1)],
                                                    "null_scores": np.linspace(0, 1, 20), "score": np.float64(0.7)})
    got = figures.figures_for(report_samples.comparison(evidence=(ev,)))
    assert [f.title for f in got if f.svg] == ["layers: layer similarity", "layers: null distribution"]


def test_curves_from_separate_keys() -> None:
    ev = Evidence("attn_std", True, 0.9, 0.01, descriptive=True,
                  detail={"curves_a": {"q": [0.1, 0.2, 0.3]}, "curves_b": {"q": [0.1, 0.25, 0.3], "k": [1.0, 2.0]}})
    fig = figures.curves_figure(ev)
    assert fig is not None and fig.svg is not None and fig.title == "attn_std: per-layer curves of A and B"


def test_expert_map_from_per_expert_rows() -> None:
    rows = {f"{layer}#{e}~{layer}": {"agree": 0.9 if e % 2 else 0.01, "p_value": 1e-9} for layer in (0, 2) for e in range(4)}
    rows["bad"] = {"agree": 1.0}
    ev = Evidence("experts", True, 0.5, 1e-9, detail={"per_expert": rows, "kind": "MoE vs dense", "moe_side": "B"})
    fig = figures.expert_map_figure(ev)
    assert fig is not None and fig.svg is not None and fig.title == "experts: expert match map (MoE vs dense)"
    assert figures.expert_map_figure(Evidence("experts", True, 0.5, 0.5, detail={"per_expert": {"x": 1}})).svg is None  # type: ignore[union-attr]
