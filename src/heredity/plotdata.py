"""Plot payloads: what an evidence test asks the report to draw, as frozen typed data.

A test builds these from the numbers it computed; :mod:`heredity.report.figures` draws each kind with
one function and never looks inside ``Evidence.detail``.  Every payload is small (sampled or capped by
the test), JSON-serialisable through ``to_dict`` (``{"kind": ..., ...}``) and rebuilt from it by
:func:`from_dict`, so a report can be redrawn from a saved comparison.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

Floats = tuple[float, ...]


def floats(values: Sequence[float] | Any) -> Floats:
    """A tuple of Python floats (numpy arrays and lists accepted; non-finite values become NaN)."""
    out = []
    for v in list(values):
        x = float(v)
        out.append(x if math.isfinite(x) else math.nan)
    return tuple(out)


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return None if not math.isfinite(value) else value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Plot:
    """Base of every payload: ``title`` names the figure, ``caption`` says how to read it."""

    kind: ClassVar[str] = ""
    title: str
    caption: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **{f.name: _plain(getattr(self, f.name)) for f in fields(self)}}


@dataclass(frozen=True)
class CurvesPlot(Plot):
    """Per-layer curves of A and B, one line per role (x: layer index)."""

    kind: ClassVar[str] = "curves"
    a: Mapping[str, Floats]
    b: Mapping[str, Floats]


@dataclass(frozen=True)
class PerLayerPlot(Plot):
    """A statistic layer by layer: ``series[name] = ((layer, value), ...)``."""

    kind: ClassVar[str] = "per_layer"
    series: Mapping[str, tuple[tuple[float, float], ...]]
    y_label: str


@dataclass(frozen=True)
class ScatterPanel:
    label: str
    a: Floats
    b: Floats


@dataclass(frozen=True)
class ScatterPlot(Plot):
    """Entries of aligned vectors, A against B, one panel per vector pair (most telling first)."""

    kind: ClassVar[str] = "scatter"
    panels: tuple[ScatterPanel, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "title": self.title, "caption": self.caption,
                "panels": [{"label": p.label, "a": _plain(p.a), "b": _plain(p.b)} for p in self.panels]}


@dataclass(frozen=True)
class HeatmapPlot(Plot):
    """A matrix (rows: ``y_label``, columns: ``x_label``), optionally with a path of (row, column) cells."""

    kind: ClassVar[str] = "heatmap"
    matrix: tuple[Floats, ...]
    x_label: str
    y_label: str
    colorbar: str
    path: tuple[tuple[int, int], ...] = ()
    x_ticks: tuple[str, ...] = ()
    y_ticks: tuple[str, ...] = ()
    value_range: tuple[float, float] | None = None


@dataclass(frozen=True)
class NullPlot(Plot):
    """Samples of ``quantity`` under independence and the observed value of the *same* quantity."""

    kind: ClassVar[str] = "null"
    samples: Floats
    observed: float
    quantity: str  # what the samples and the observed value are, in words (axis label and caption)


KINDS: dict[str, type[Plot]] = {c.kind: c for c in (CurvesPlot, PerLayerPlot, ScatterPlot, HeatmapPlot, NullPlot)}


def from_dict(d: Mapping[str, Any]) -> Plot:
    """Rebuild a payload from ``to_dict`` output; ValueError on an unknown kind."""
    cls = KINDS.get(str(d.get("kind")))
    if cls is None:
        raise ValueError(f"unknown plot kind {d.get('kind')!r}")
    if cls is ScatterPlot:
        panels = tuple(ScatterPanel(str(p["label"]), floats(_nan(p["a"])), floats(_nan(p["b"]))) for p in d["panels"])
        return ScatterPlot(str(d["title"]), str(d["caption"]), panels)
    kw = {f.name: d[f.name] for f in fields(cls) if f.name in d}
    if cls is CurvesPlot:
        kw["a"] = {k: floats(_nan(v)) for k, v in d["a"].items()}
        kw["b"] = {k: floats(_nan(v)) for k, v in d["b"].items()}
    elif cls is PerLayerPlot:
        kw["series"] = {k: tuple((float(x), float(y)) for x, y in v) for k, v in d["series"].items()}
    elif cls is HeatmapPlot:
        kw["matrix"] = tuple(floats(_nan(r)) for r in d["matrix"])
        kw["path"] = tuple((int(i), int(j)) for i, j in d.get("path", ()))
        kw["x_ticks"], kw["y_ticks"] = tuple(d.get("x_ticks", ())), tuple(d.get("y_ticks", ()))
        vr = d.get("value_range")
        kw["value_range"] = None if vr is None else (float(vr[0]), float(vr[1]))
    elif cls is NullPlot:
        kw["samples"] = floats(_nan(d["samples"]))
        kw["observed"] = float(d["observed"])
    return cls(**kw)


def _nan(values: Sequence[Any]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]
