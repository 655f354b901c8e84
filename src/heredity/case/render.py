"""The case study side by side: what attn_std says and what heredity says, for both pairs."""

from __future__ import annotations

import io
import json

import numpy as np
from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from heredity.bench.detectors import ATTN_STD_PUBLISHED_THRESHOLD
from heredity.case.moge_upcycle import CaseResult
from heredity.errors import safe_name
from heredity.report.fmt import format_p


def _r(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _test_cell(result: CaseResult, pair: int, name: str) -> str:
    ev = next((e for e in result.pairs[pair].comparison.evidence if e.test == name), None)
    if ev is None:
        return "-"
    return format_p(ev.p_value) if ev.applicable else "n/a"


def side_by_side(result: CaseResult) -> Table:
    """Rows = what is measured, one column per pair: attn_std's reading first, then heredity's."""
    t = Table(title="Dense Qwen2.5-shaped model vs two MoGE models", title_justify="left", box=box.SIMPLE)
    t.add_column("", no_wrap=True)
    for p in result.pairs:
        t.add_column(p.name, no_wrap=True)
    rows: list[tuple[str, list[str]]] = [
        ("truth", [p.label for p in result.pairs]),
        ("attn_std correlation r", [_r(p.attn_std) for p in result.pairs]),
        (f"attn_std published (r > {ATTN_STD_PUBLISHED_THRESHOLD})", [p.published_call for p in result.pairs]),
        ("attn_std r vs its null: p", [format_p(p.attn_std_null_p) for p in result.pairs]),
        ("heredity verdict", [p.comparison.verdict.label for p in result.pairs]),
        ("heredity combined p", [format_p(p.comparison.verdict.p_value) for p in result.pairs]),
    ]
    for label, cells in rows:
        t.add_row(label, *cells)
    descriptive = {e.test for p in result.pairs for e in p.comparison.evidence if e.descriptive}
    for name in dict.fromkeys(e.test for p in result.pairs for e in p.comparison.evidence):
        star = " (descriptive)" if name in descriptive else ""
        t.add_row(f"  test {safe_name(name, 30)}{star}: p", *[_test_cell(result, i, name) for i in range(len(result.pairs))])
    return t


def null_line(result: CaseResult) -> Text:
    """The attn_std null in one line: how many independent pairs, their range and mean."""
    if not result.null:
        return Text("attn_std null: no independent pairs could be compared", style="dim")
    v = np.asarray(result.null)
    return Text(f"attn_std null over {v.size} pairs of independently trained models (same data, other seeds): "
                f"min {v.min():.3f}, mean {v.mean():.3f}, max {v.max():.3f}; "
                f"{int((v > ATTN_STD_PUBLISHED_THRESHOLD).sum())} above the published {ATTN_STD_PUBLISHED_THRESHOLD}",
                style="dim")


def renderable(result: CaseResult) -> Group:
    reports = [Text(f"report: {safe_name(p.report, 300)}", style="dim") for p in result.pairs if p.report]
    return Group(side_by_side(result), null_line(result), *reports)


def render_terminal(result: CaseResult, console: Console) -> None:
    console.print(renderable(result))


def render_text(result: CaseResult, width: int = 160) -> str:
    console = Console(width=width, record=True, color_system=None, force_terminal=False, file=io.StringIO(),
                      emoji=False)
    console.print(renderable(result))
    return console.export_text()


def render_json(result: CaseResult) -> str:
    return json.dumps(result.to_dict(), indent=2) + "\n"
