"""Plot helpers that turn plain lists into inline SVG strings for the HTML report.

Why SVG from matplotlib, inline: the report must be ONE self-contained file that opens offline and
sends no request (no CDN, no JavaScript plotting library).  Inline SVG needs nothing but the browser,
scales without blur, and stays small because ``svg.fonttype = 'none'`` writes labels as ``<text>``
(rendered in the page's own sans-serif font) instead of one glyph path per character; that also keeps
the labels searchable and copyable.  Heat maps use ``imshow``, which embeds one small PNG as a
``data:`` URI inside the SVG: a few KB instead of one vector rectangle per cell.

Every element id is prefixed with a hash of the figure's own SVG, so ids (clip paths, markers,
``figure_1``) never collide when several SVGs share one HTML page, and the output stays deterministic
(fixed hash salt, no date metadata).  We draw on
:class:`matplotlib.figure.Figure` directly (Agg canvas, no pyplot), so no global state or GUI backend
is touched.  Helpers never compute statistics: they draw what the evidence tests stored.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

from heredity.errors import require

_COLORS = {"a": "#1f5fa8", "b": "#d0602a"}
MAX_POINTS = 1500  # per scatter panel


def _figure(width: float, height: float) -> Any:
    """A new matplotlib Figure on an SVG-capable canvas, without pyplot."""
    mfig: Any = require("matplotlib.figure", "report", "the HTML report's plots")
    return mfig.Figure(figsize=(width, height), layout="constrained")


def to_svg(fig: Any) -> str:
    """Serialise a Figure to an inline ``<svg>`` element (no XML prolog, no DOCTYPE, no metadata)."""
    import matplotlib

    rc: Any = {"svg.fonttype": "none", "svg.hashsalt": "heredity", "font.size": 9}
    buf = io.StringIO()
    with matplotlib.rc_context(rc):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = re.sub(r"<\?xml[^>]*\?>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text)
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return _prefix_ids(text.strip(), f"h{digest}-")


def _prefix_ids(svg: str, prefix: str) -> str:
    """Make every id unique on the page (matplotlib reuses ``figure_1``, ``axes_1``... in each SVG)."""
    svg = re.sub(r'\bid="', f'id="{prefix}', svg)
    svg = svg.replace("url(#", f"url(#{prefix}")
    return re.sub(r'xlink:href="#', f'xlink:href="#{prefix}', svg)


def _integer_x(ax: Any, label: str) -> None:
    """Layer axes get integer ticks only."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(label)


def layer_curves(curves_a: Mapping[str, Sequence[float]], curves_b: Mapping[str, Sequence[float]], title: str) -> str:
    """One panel per role: A's per-layer values (solid) and B's (dashed) against layer index."""
    roles = [r for r in curves_a if r in curves_b] or sorted(set(curves_a) | set(curves_b))
    fig = _figure(min(2.4 * len(roles), 9.6) + 0.6, 2.4)
    axes = fig.subplots(1, len(roles), squeeze=False)[0]
    for ax, role in zip(axes, roles, strict=True):
        for side, curves, style in (("a", curves_a, "-"), ("b", curves_b, "--")):
            if role in curves:
                ys = list(curves[role])
                ax.plot(range(len(ys)), ys, style, color=_COLORS[side], label=side.upper(), marker=".", markersize=3)
        ax.set_title(role)
        _integer_x(ax, "layer")
    axes[0].legend(frameon=False)
    fig.suptitle(title)
    return to_svg(fig)


def vector_scatter(panels: Sequence[tuple[str, Sequence[float], Sequence[float]]], title: str) -> str:
    """Scatter of aligned vector entries, A on x and B on y, one panel per (label, a, b); at most
    :data:`MAX_POINTS` evenly strided entries per panel are drawn."""
    fig = _figure(2.6 * len(panels) + 0.4, 2.6)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (label, a, b) in zip(axes, panels, strict=True):
        n = min(len(a), len(b))
        step = max(1, -(-n // MAX_POINTS))  # every step-th entry keeps the SVG small for wide models
        ax.scatter(list(a)[:n:step], list(b)[:n:step], s=4, alpha=0.6, color=_COLORS["a"], linewidths=0)
        ax.set_title(label)
        ax.set_xlabel("A")
        ax.set_ylabel("B")
    fig.suptitle(title)
    return to_svg(fig)


def heatmap(matrix: Sequence[Sequence[float]], title: str, xlabel: str, ylabel: str,
            path: Sequence[Sequence[int]] | None = None, colorbar: str = "",
            xticks: Sequence[str] | None = None, yticks: Sequence[str] | None = None,
            vrange: tuple[float, float] | None = None) -> str:
    """A matrix as an image (rows = y), with an optional alignment path of (row, column) pairs,
    optional tick labels (one per column / row; integer ticks otherwise) and a fixed colour range."""
    from matplotlib.ticker import MaxNLocator

    fig = _figure(4.4 + (0.8 if xticks else 0.0), 3.6 + (0.8 if xticks else 0.0))
    ax = fig.add_subplot()
    for axis, labels in ((ax.xaxis, xticks), (ax.yaxis, yticks)):
        if labels:
            axis.set_ticks(range(len(labels)), list(labels))
        else:
            axis.set_major_locator(MaxNLocator(integer=True))
    if xticks:
        ax.tick_params(axis="x", labelrotation=45)
    vmin, vmax = vrange if vrange else (None, None)
    image = ax.imshow(matrix, aspect="auto", interpolation="nearest", cmap="viridis", origin="lower", vmin=vmin, vmax=vmax)
    if path:
        ax.plot([p[1] for p in path], [p[0] for p in path], color="#ff4040", linewidth=1.2, marker="o", markersize=2.5)
    fig.colorbar(image, ax=ax, label=colorbar)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return to_svg(fig)


def null_histogram(samples: Sequence[float], observed: float | None, title: str, xlabel: str = "statistic") -> str:
    """Histogram of the statistic under the null (independence), observed value as a red line."""
    fig = _figure(4.0, 2.6)
    ax = fig.add_subplot()
    ax.hist(list(samples), bins=min(40, max(5, len(samples) // 5)), color="#9aa7b8")
    if observed is not None:
        ax.axvline(observed, color="#c0392b", linewidth=2, label=f"observed {observed:.4g}")
        ax.legend(frameon=False, loc="upper left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("null samples")
    ax.set_title(title)
    return to_svg(fig)


def lineage_tree(positions: Mapping[str, tuple[float, float]], edges: Sequence[tuple[str, str, str]], title: str) -> str:
    """Nodes at given (x, depth) positions joined by labelled edges (parent, child, label)."""
    depth = max((p[1] for p in positions.values()), default=0)
    width = max((p[0] for p in positions.values()), default=0)
    fig = _figure(max(4.0, 1.8 * (width + 1)), max(2.0, 1.2 * (depth + 1)))
    ax = fig.add_subplot()
    for parent, child, label in edges:
        (x0, y0), (x1, y1) = positions[parent], positions[child]
        ax.plot([x0, x1], [y0, y1], color="#888888", linewidth=1.2, zorder=1)
        ax.text((x0 + x1) / 2, (y0 + y1) / 2, label, fontsize=7, color="#555555", ha="center", va="center",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"}, zorder=2)
    for name, (x, y) in positions.items():
        ax.text(x, y, name, ha="center", va="center", zorder=3,
                bbox={"boxstyle": "round,pad=0.3", "fc": "#eef3fb", "ec": _COLORS["a"]})
    ax.set_xlim(-0.7, width + 0.7)
    ax.set_ylim(depth + 0.6, -0.6)
    ax.set_axis_off()
    ax.set_title(title)
    return to_svg(fig)


def series(lines: Mapping[str, Sequence[tuple[float, float]]], title: str, ylabel: str) -> str:
    """One line per named series of (x, y) points, e.g. a per-layer statistic for each role."""
    fig = _figure(5.2, 2.8)
    ax = fig.add_subplot()
    for name, points in lines.items():
        pts = sorted(points)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", markersize=4, linewidth=1, label=name)
    if 1 < len(lines) <= 10:
        ax.legend(frameon=False, fontsize=7, ncols=2)
    _integer_x(ax, "layer")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return to_svg(fig)
