"""The report's figures, drawn from the plot payloads each evidence test attached.

Each payload kind (:mod:`heredity.plotdata`) has one drawing function; nothing here looks inside
``Evidence.detail`` or knows a test by name.  A payload with nothing drawable (no panels, an empty
matrix) is skipped with a note rather than crashing the report, and a test that attached no payload
simply has no figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from heredity.errors import MissingDependencyError, safe_name
from heredity.plotdata import CurvesPlot, HeatmapPlot, NullPlot, PerLayerPlot, Plot, ScatterPlot
from heredity.report import plots
from heredity.results import Comparison, Evidence

MAX_SCATTER_PANELS = 3
MAX_SERIES = 8


@dataclass(frozen=True)
class Figure:
    """One plot for the report: an inline SVG, or ``svg=None`` and a note saying why it is absent."""

    test: str
    title: str
    caption: str
    svg: str | None = None
    note: str = ""


def _finite(values: Any) -> list[float]:
    return [float(v) for v in values if math.isfinite(float(v))]


def curves_svg(p: CurvesPlot) -> str | None:
    ca = {k: list(v) for k, v in p.a.items() if _finite(v)}
    cb = {k: list(v) for k, v in p.b.items() if _finite(v)}
    return plots.layer_curves(ca, cb, p.title) if ca and cb else None


def per_layer_svg(p: PerLayerPlot) -> str | None:
    lines = {safe_name(k, 40): [(x, y) for x, y in v if math.isfinite(y)] for k, v in p.series.items()}
    lines = {k: v for k, v in lines.items() if v}
    if not lines:
        return None
    lines = dict(sorted(lines.items(), key=lambda kv: -len(kv[1]))[:MAX_SERIES])
    return plots.series(lines, p.title, p.y_label)


def scatter_svg(p: ScatterPlot) -> str | None:
    panels = [(safe_name(q.label, 40), list(q.a), list(q.b)) for q in p.panels if q.a and q.b]
    return plots.vector_scatter(panels[:MAX_SCATTER_PANELS], p.title) if panels else None


def heatmap_svg(p: HeatmapPlot) -> str | None:
    if not p.matrix or not p.matrix[0] or any(len(r) != len(p.matrix[0]) for r in p.matrix):
        return None
    return plots.heatmap([list(r) for r in p.matrix], p.title, p.x_label, p.y_label,
                         path=[list(c) for c in p.path] or None, colorbar=p.colorbar,
                         xticks=list(p.x_ticks) or None, yticks=list(p.y_ticks) or None, vrange=p.value_range)


def null_svg(p: NullPlot) -> str | None:
    samples = _finite(p.samples)
    if not samples:
        return None
    observed = p.observed if math.isfinite(p.observed) else None
    return plots.null_histogram(samples, observed, p.title, safe_name(p.quantity.split(" (")[0], 40))


DRAW: dict[type[Plot], Callable[[Any], str | None]] = {
    CurvesPlot: curves_svg, PerLayerPlot: per_layer_svg, ScatterPlot: scatter_svg,
    HeatmapPlot: heatmap_svg, NullPlot: null_svg,
}


def figure(ev: Evidence, p: Plot) -> Figure:
    """Draw one payload; odd data becomes a note, never a crashed report."""
    draw = DRAW.get(type(p))
    if draw is None:
        return Figure(ev.test, p.title, "", note=f"no renderer for plot kind '{safe_name(p.kind, 40)}'")
    try:
        svg = draw(p)
    except MissingDependencyError:
        raise
    except (TypeError, ValueError, IndexError) as exc:
        return Figure(ev.test, p.title, "", note=f"plot skipped: {type(exc).__name__}: {safe_name(exc, 120)}")
    if svg is None:
        return Figure(ev.test, p.title, "", note="nothing to draw (no finite values)")
    return Figure(ev.test, p.title, p.caption, svg)


def figures_for(comp: Comparison) -> list[Figure]:
    """Every figure the evidence attached, in evidence order."""
    return [figure(ev, p) for ev in comp.evidence if ev.applicable for p in ev.plots]
