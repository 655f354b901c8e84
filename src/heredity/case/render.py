"""The case study side by side: what attn_std says and what heredity says, for both pairs."""

from __future__ import annotations

import io
import json

import numpy as np
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from heredity.bench.detectors import ATTN_STD_PUBLISHED_THRESHOLD
from heredity.case.moge_upcycle import CaseResult, PairResult
from heredity.errors import safe_name
from heredity.report.fmt import format_p


def _r(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _tests(p: PairResult) -> str:
    """Each test that produced a p-value, as ``name p=...`` (descriptive ones marked with *)."""
    parts = [f"{e.test}{'*' if e.descriptive else ''} p={format_p(e.p_value)}"
             for e in p.comparison.evidence if e.applicable and e.p_value is not None]
    return ", ".join(parts) or "no test applicable"


def pairs_table(result: CaseResult) -> Table:
    t = Table(title="Dense Qwen2.5-shaped model vs two MoGE models", title_justify="left")
    for col in ("pair", "truth", "attn_std r", f"> {ATTN_STD_PUBLISHED_THRESHOLD} says", "r vs null (p)",
                "heredity", "combined p", "tests (* = descriptive)"):
        t.add_column(col)
    for p in result.pairs:
        v = p.comparison.verdict
        t.add_row(p.name, p.label, _r(p.attn_std), p.published_call, format_p(p.attn_std_null_p), v.label,
                  format_p(v.p_value), safe_name(_tests(p), 400))
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
    return Group(pairs_table(result), null_line(result), *reports)


def render_terminal(result: CaseResult, console: Console) -> None:
    console.print(renderable(result))


def render_text(result: CaseResult, width: int = 160) -> str:
    console = Console(width=width, record=True, color_system=None, force_terminal=False, file=io.StringIO())
    console.print(renderable(result))
    return console.export_text()


def render_json(result: CaseResult) -> str:
    return json.dumps(result.to_dict(), indent=2) + "\n"
