"""Which plots a comparison supports, read from the evidence ``detail`` dicts.

Each evidence test stores its plot data in ``Evidence.detail`` (the keys below); this module only
looks them up and hands them to :mod:`heredity.report.plots`.  Missing or malformed data never
crashes a report: the plot is replaced by a note saying what was absent.

Keys read (first match wins; aliases cover the engine's spellings):

- curves (per-layer values of A and B by role): ``curves = {"a": {role: [..]}, "b": {role: [..]}}``,
  or ``curves_a`` / ``curves_b`` (each ``{role: [..]}``)
- per-layer statistic: ``per_vector = {"role@layer": {"spearman"}}`` (one line per role) or
  ``per_layer = {"layer_a~layer_b": {"spearman" | "statistic"}}``
- aligned vectors: ``vectors = {label: {"a": [..], "b": [..]}}``, ordered by the per-layer p-values in
  ``layers = [{"layer", "role", "p_value"}, ..]`` when those exist (most telling first)
- layer x layer similarity: ``similarity`` (rows = layers of A), with ``path = [[i_a, i_b], ..]``
- expert-to-dense match map: ``match`` / ``expert_match`` (rows = experts of one model)
- per-expert matches (the ``experts`` test): ``per_expert = {"layer#expert~other_layer": {"agree"}}``,
  drawn as a layer x expert map
- null distribution: ``null`` / ``null_samples`` / ``null_scores`` / ``null_statistics`` (the statistic
  under independence); observed value = ``observed`` or ``score`` when given (a test whose null is of
  a raw score rather than of its reported statistic; ``null_of`` then names that quantity for the
  axis and caption), else ``Evidence.statistic``; failing those, the first entry of ``groups = {name: {"statistic", "null_samples"}}`` that has null samples
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from heredity.errors import MissingDependencyError, safe_name
from heredity.report import plots
from heredity.results import Comparison, Evidence

MAX_SCATTER_PANELS = 3
MAX_SERIES = 8
NULL_KEYS = ("null", "null_samples", "null_scores", "null_statistics")


@dataclass(frozen=True)
class Figure:
    """One plot for the report: an inline SVG, or ``svg=None`` and a note saying why it is absent."""

    test: str
    title: str
    caption: str
    svg: str | None = None
    note: str = ""


def _first(detail: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in detail and detail[key] is not None:
            return detail[key]
    return None


def _is_matrix(value: Any) -> bool:
    return (
        isinstance(value, Sequence) and len(value) > 0
        and all(isinstance(row, Sequence) and len(row) == len(value[0]) > 0 for row in value)
    )


def _matrix(value: Any) -> list[list[float]] | None:
    """A rectangular matrix of floats (JSON nulls become NaN, drawn blank), or None if malformed."""
    if not _is_matrix(value):
        return None
    return [[math.nan if v is None else float(v) for v in row] for row in value]


def _numbers(value: Any) -> list[float] | None:
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        return None
    out = [float(v) for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
    out = [v for v in out if math.isfinite(v)]
    return out or None


def curves_figure(ev: Evidence) -> Figure | None:
    """Per-layer curves of A and B for each role (the public attention-std view)."""
    curves = _first(ev.detail, "curves")
    if curves is None and "curves_a" in ev.detail:
        curves = {"a": ev.detail.get("curves_a"), "b": ev.detail.get("curves_b")}
    title = f"{ev.test}: per-layer curves of A and B"
    if curves is None:
        return None
    a, b = (curves.get(s) if isinstance(curves, Mapping) else None for s in ("a", "b"))
    if not isinstance(a, Mapping) or not isinstance(b, Mapping):
        return Figure(ev.test, title, "", note="curves need an 'a' and a 'b' mapping of role to values")
    ca = {str(k): v for k, v in a.items() if _numbers(v)}
    cb = {str(k): v for k, v in b.items() if _numbers(v)}
    if not ca or not cb:
        return Figure(ev.test, title, "", note="no numeric curves found")
    caption = "Solid: A, dashed: B, against layer index. Shared depth trends are common to unrelated models."
    return Figure(ev.test, title, caption, plots.layer_curves(ca, cb, title))


def _layer_order(detail: Mapping[str, Any]) -> dict[str, float]:
    """Label -> per-layer p-value, from ``layers`` entries (``role/layer`` and ``role@layer`` labels)."""
    order: dict[str, float] = {}
    for row in detail.get("layers") or ():
        if isinstance(row, Mapping) and isinstance(row.get("p_value"), (int, float)):
            for sep in ("/", "@", "."):
                order[f"{row.get('role')}{sep}{row.get('layer')}"] = float(row["p_value"])
    return order


def scatter_figure(ev: Evidence) -> Figure | None:
    """Scatter of aligned vector entries for the most telling layers."""
    vectors = _first(ev.detail, "vectors")
    if not isinstance(vectors, Mapping):
        return None
    title = f"{ev.test}: aligned vector entries, A against B"
    order = _layer_order(ev.detail)
    items = [(str(k), v) for k, v in vectors.items() if isinstance(v, Mapping)]
    items.sort(key=lambda kv: order.get(kv[0], 1.0))
    panels = [(safe_name(k, 40), a, b) for k, v in items if (a := _numbers(v.get("a"))) and (b := _numbers(v.get("b")))]
    if not panels:
        return Figure(ev.test, title, "", note="no vector pairs with 'a' and 'b' values")
    caption = "Each dot is one entry of an aligned vector; related models fall on a line, independent ones form a blob."
    return Figure(ev.test, title, caption, plots.vector_scatter(panels[:MAX_SCATTER_PANELS], title))


def heatmap_figure(ev: Evidence) -> Figure | None:
    """Layer x layer similarity with the alignment path, or the expert-to-dense match map."""
    sim = _first(ev.detail, "similarity", "layer_similarity")
    match = _first(ev.detail, "match", "expert_match")
    if sim is not None:
        title, x, y, path = f"{ev.test}: layer similarity", "layer of B", "layer of A", _first(ev.detail, "path", "alignment")
        caption = "Brighter cells: more similar layers. Red: the alignment found (dropped or repeated layers show as steps)."
        data = sim
    elif match is not None:
        title, x, y, path = f"{ev.test}: expert-to-dense match", "dense FFN unit / slice", "expert", None
        caption = "How strongly each expert matches each part of the dense FFN; copies and slices light up."
        data = match
    else:
        return None
    matrix = _matrix(data)
    if matrix is None:
        return Figure(ev.test, title, "", note="the matrix is empty or ragged")
    path = path if _is_matrix(path) and len(path[0]) == 2 else None
    return Figure(ev.test, title, caption, plots.heatmap(matrix, title, x, y, path=path, colorbar="similarity"))


def _null_source(detail: Mapping[str, Any], statistic: float | None) -> tuple[str, Any, float | None] | None:
    """(label, null samples, observed) from the top level, else from the first ``groups`` entry with nulls."""
    raw = _first(detail, *NULL_KEYS)
    if raw is not None:
        observed = _first(detail, "observed", "score")
        return "", raw, float(observed) if isinstance(observed, (int, float)) else statistic
    groups = detail.get("groups")
    for name, group in (groups.items() if isinstance(groups, Mapping) else ()):
        if isinstance(group, Mapping) and (raw := _first(group, *NULL_KEYS)) is not None:
            observed = group.get("statistic")
            return f" ({safe_name(name, 40)})", raw, float(observed) if isinstance(observed, (int, float)) else None
    return None


def null_figure(ev: Evidence) -> Figure | None:
    """The statistic's null distribution with the observed value marked."""
    found = _null_source(ev.detail, ev.statistic)
    if found is None:
        return None
    label, raw, observed = found
    title = f"{ev.test}: null distribution{label}"
    samples = _numbers(raw)
    if samples is None:
        return Figure(ev.test, title, "", note="no numeric null samples")
    what = ev.detail.get("null_of") if isinstance(ev.detail.get("null_of"), str) else None
    caption = (f"Grey: the {safe_name(what or 'statistic', 80)} under independence (B's units shuffled). "
               "Red: the observed value of the same quantity.")
    return Figure(ev.test, title, caption, plots.null_histogram(samples, observed, title, safe_name((what or "statistic").split(" (")[0], 40)))


def _layer_of(key: str) -> tuple[str, int] | None:
    """``role@3`` -> ("role", 3); ``3~4`` or ``3`` -> ("", 3) (A's layer); anything else -> None."""
    name, sep, rest = key.partition("@")
    if not sep:
        name, rest = "", key
    head = rest.split("~")[0].split("#")[0]
    return (name, int(head)) if head.isdigit() else None


def _per_layer_series(rows: Mapping[str, Any], value_keys: tuple[str, ...]) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {}
    for key, row in rows.items():
        where = _layer_of(str(key))
        value = _first(row, *value_keys) if isinstance(row, Mapping) else None
        if where is not None and isinstance(value, (int, float)) and math.isfinite(value):
            out.setdefault(where[0] or "per layer", []).append((float(where[1]), float(value)))
    return out


def per_layer_figure(ev: Evidence) -> Figure | None:
    """The test's statistic layer by layer (``per_vector`` by role, or ``per_layer``)."""
    rows = _first(ev.detail, "per_vector", "per_layer")
    if not isinstance(rows, Mapping):
        return None
    title = f"{ev.test}: per-layer correlation of A and B"
    lines = _per_layer_series(rows, ("spearman", "statistic", "pearson"))
    if not lines:
        return Figure(ev.test, title, "", note="no per-layer values keyed by layer")
    lines = dict(sorted(lines.items(), key=lambda kv: -len(kv[1]))[:MAX_SERIES])
    caption = "Rank correlation of aligned units in each layer (x: layer of A). Independent models stay near 0."
    return Figure(ev.test, title, caption, plots.series(lines, title, "Spearman"))


def _expert_cells(rows: Mapping[str, Any]) -> dict[tuple[int, int], float]:
    """``"layer#expert~other_layer": {"agree": ..}`` -> {(layer, expert): agree}."""
    cells = {}
    for key, row in rows.items():
        head = str(key).split("~")[0]
        layer, sep, expert = head.partition("#")
        value = row.get("agree") if isinstance(row, Mapping) else None
        if sep and layer.isdigit() and expert.isdigit() and isinstance(value, (int, float)):
            cells[(int(layer), int(expert))] = float(value)
    return cells


def expert_map_figure(ev: Evidence) -> Figure | None:
    """Layer x expert map of how well each sampled expert matches the other model's FFN."""
    rows = _first(ev.detail, "per_expert")
    if not isinstance(rows, Mapping):
        return None
    side = ev.detail.get("moe_side", "the MoE model")
    title = f"{ev.test}: expert match map ({safe_name(ev.detail.get('kind', 'MoE'), 40)})"
    cells = _expert_cells(rows)
    if not cells:
        return Figure(ev.test, title, "", note="no per-expert entries keyed layer#expert")
    layers = sorted({k[0] for k in cells})
    experts = sorted({k[1] for k in cells})
    matrix = [[cells.get((la, e), math.nan) for e in experts] for la in layers]
    caption = (f"Share of neurons of each sampled expert of {safe_name(side, 20)} whose gate- and up-based matchings "
               "to the other model agree (blank: not sampled). Copies and slices of a dense FFN light up.")
    svg = plots.heatmap(matrix, title, "expert", "layer", colorbar="agreement",
                        xticks=[str(e) for e in experts], yticks=[str(la) for la in layers], vrange=(0.0, 1.0))
    return Figure(ev.test, title, caption, svg)


BUILDERS: tuple[Callable[[Evidence], Figure | None], ...] = (curves_figure, per_layer_figure, scatter_figure, heatmap_figure, expert_map_figure, null_figure)


def _safely(build: Callable[[Evidence], Figure | None], ev: Evidence) -> Figure | None:
    """Run one builder; any failure on odd data becomes a note, never a crashed report."""
    try:
        return build(ev)
    except MissingDependencyError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        return Figure(ev.test, f"{ev.test}: plot", "", note=f"plot skipped: {type(exc).__name__}: {safe_name(exc, 120)}")


def figures_for(comp: Comparison) -> list[Figure]:
    """Every figure the evidence supports, in evidence order; a note when a test has none."""
    out: list[Figure] = []
    for raw in comp.evidence:
        if not raw.applicable:
            continue
        # plot from the JSON view of the detail (numpy arrays -> lists): exactly what JSON readers see
        ev = dataclasses.replace(raw, detail=raw.to_dict()["detail"])
        found = [f for build in BUILDERS if (f := _safely(build, ev)) is not None]
        out.extend(found or [Figure(ev.test, ev.test, "", note="this test stored no plot data")])
    return out
