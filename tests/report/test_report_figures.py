"""Which figures a comparison yields: one per plot payload, drawn by kind, odd data as a note."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import report_samples  # noqa: E402

from heredity.plotdata import (  # noqa: E402
    CurvesPlot,
    HeatmapPlot,
    NullPlot,
    PerLayerPlot,
    ScatterPanel,
    ScatterPlot,
    floats,
)
from heredity.report import figures  # noqa: E402
from heredity.results import Evidence, Exclusion, Power  # noqa: E402

POWER = Power(True, "x")


def one(*plots: object) -> list[figures.Figure]:
    ev = Evidence("some_test", True, 0.5, 0.5, power=POWER, plots=tuple(plots))  # type: ignore[arg-type]
    return figures.figures_for(report_samples.comparison(evidence=(ev,)))


def test_every_kind_of_figure_is_drawn() -> None:
    got = [(f.test, f.title) for f in figures.figures_for(report_samples.comparison()) if f.svg]
    assert ("attn_std", "attn_std: per-layer curves of A and B") in got
    assert ("vectors", "vectors: aligned vector entries, A against B") in got
    assert ("layers", "layers: layer similarity") in got
    assert {t for t, title in got if "null distribution" in title} == {"vectors", "matching", "attn_std"}


def test_heatmap_with_ticks_and_range() -> None:
    heat = HeatmapPlot("experts: expert match map", "c", ((0.9, 0.1), (0.1, 0.8), (0.2, float("nan"))),
                       "expert", "layer", "agreement", x_ticks=("0", "1"), y_ticks=("0", "1", "2"),
                       value_range=(0.0, 1.0))
    (fig,) = one(heat)
    assert fig.title == "experts: expert match map" and fig.svg and "<svg" in fig.svg


def test_null_marks_the_observed_value_of_the_same_quantity() -> None:
    (fig,) = one(NullPlot("t: null distribution", "Grey: the score.", floats([0.0, 0.1, 0.2] * 5), 4.25,
                          "alignment score (summed)"))
    assert fig.svg is not None and "observed 4.25" in fig.svg and "alignment score" in fig.svg


def test_scatter_keeps_the_first_panels() -> None:
    panels = tuple(ScatterPanel(f"attn_norm@{i}", (1.0, 2.0, 3.0), (1.0, 2.0, 3.0)) for i in range(5))
    (fig,) = one(ScatterPlot("t: scatter", "c", panels))
    assert fig.svg is not None
    assert "attn_norm@0" in fig.svg and "attn_norm@2" in fig.svg and "attn_norm@4" not in fig.svg


def test_tests_without_payloads_have_no_figures_and_no_note() -> None:
    comp = report_samples.comparison(evidence=(
        Evidence("experts", False, reason="dense", excluded=Exclusion.STRUCTURE),
        Evidence("identical", True, 0.0, 1.0, power=POWER)))
    assert figures.figures_for(comp) == []


def test_nothing_drawable_becomes_a_note() -> None:
    figs = one(ScatterPlot("t: scatter", "c", ()), HeatmapPlot("t: heat", "c", ((1.0,), (1.0, 2.0)), "x", "y", "z"),
               NullPlot("t: null", "c", (float("nan"),), 1.0, "s"), PerLayerPlot("t: per layer", "c", {}, "rho"))
    assert [f.svg for f in figs] == [None] * 4 and all(f.note for f in figs)


def test_svgs_are_deterministic_and_ids_unique() -> None:
    one_run = [f.svg for f in figures.figures_for(report_samples.comparison())]
    two_run = [f.svg for f in figures.figures_for(report_samples.comparison())]
    assert one_run == two_run
    ids = [i for svg in one_run if svg for i in re.findall(r'\bid="([^"]+)"', svg)]
    assert len(ids) == len(set(ids))


def test_wide_vectors_are_strided_to_keep_svg_small() -> None:
    from heredity.report import plots

    wide = [float(i % 97) for i in range(20_000)]
    svg = plots.vector_scatter([("hidden", wide, wide)], "wide")
    assert svg.count("<use ") <= plots.MAX_POINTS + 50


def test_per_layer_series() -> None:
    series = {r: tuple((float(i), 0.1 * i) for i in range(4)) for r in ("attn_norm", "mlp_norm")}
    (fig,) = one(PerLayerPlot("t: per-layer", "c", series, "Spearman"))
    assert fig.svg is not None and "attn_norm" in fig.svg and "mlp_norm" in fig.svg


def test_curves() -> None:
    (fig,) = one(CurvesPlot("attn_std: per-layer curves of A and B", "c", {"q": (0.1, 0.2, 0.3)},
                            {"q": (0.1, 0.25, 0.3), "k": (1.0, 2.0)}))
    assert fig.svg is not None and fig.title == "attn_std: per-layer curves of A and B"
