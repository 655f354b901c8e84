"""Render a :class:`~heredity.bench.results.BenchResult`: rich tables for people, JSON for machines.

Renderers only format; every number was computed in :mod:`heredity.bench.scoring`.
"""

from __future__ import annotations

import io
import json

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from heredity.bench.results import BenchResult
from heredity.errors import safe_name


def _fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def detector_table(result: BenchResult) -> Table:
    """One row per detector: accuracy, false-positive rate, AUC, TPR at FPR <= 1 %, seconds."""
    t = Table(title="Detectors over all pairs", title_justify="left")
    for col in ("detector", "pairs", "accuracy", "FPR", "AUC", "TPR@FPR<=1%", "seconds"):
        t.add_column(col, justify="left" if col == "detector" else "right")
    for name, s in result.detectors.items():
        t.add_row(safe_name(name, 40), str(s.cases), _fmt(s.accuracy), _fmt(s.false_positive_rate), _fmt(s.auc),
                  _fmt(s.tpr_at_fpr_1pct), f"{s.seconds:.1f}")
    return t


def category_table(result: BenchResult) -> Table:
    """Accuracy of every detector within each category (each category holds one label)."""
    names = list(result.detectors)
    t = Table(title="Accuracy per category", title_justify="left")
    t.add_column("category")
    t.add_column("label")
    t.add_column("pairs", justify="right")
    for name in names:
        t.add_column(safe_name(name, 24), justify="right")
    for cat, per in result.categories.items():
        labels = {c.label for c in result.cases if c.category == cat}
        n = sum(c.category == cat for c in result.cases)
        t.add_row(safe_name(cat, 40), "/".join(sorted(labels)), str(n),
                  *[_fmt(per[name].accuracy, 2) if name in per else "-" for name in names])
    return t


def renderable(result: BenchResult) -> Group:
    notes = [Text(f"note: {n}", style="dim") for n in result.notes]
    return Group(detector_table(result), category_table(result), *notes)


def render_terminal(result: BenchResult, console: Console) -> None:
    console.print(renderable(result))


def render_text(result: BenchResult, width: int = 120) -> str:
    """Plain text of the terminal tables (no colour), for files and tests."""
    console = Console(width=width, record=True, color_system=None, force_terminal=False, file=io.StringIO())
    console.print(renderable(result))
    return console.export_text()


def render_json(result: BenchResult) -> str:
    return json.dumps(result.to_dict(), indent=2) + "\n"

