"""Render a :class:`~heredity.bench.null_results.NullResult`: rich tables for people, JSON for machines.

Renderers only format; every number was computed in :mod:`heredity.bench.null_results`.
"""

from __future__ import annotations

import io
import json

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from heredity.bench.null_results import NullResult, Rates
from heredity.errors import safe_name

MAX_LISTED = 30  # pairs that were not called independent, listed by name


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _g(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def rates_table(result: NullResult) -> Table:
    """False-related and inconclusive rates under the current rule and the previous one."""
    t = Table(title=f"Null panel: {len(result.cases)} independent pairs of {result.models} models",
              title_justify="left")
    for col in ("rule", "related (false)", "inconclusive", "of which flagged", "of which no power", "independent"):
        t.add_column(col, justify="left" if col == "rule" else "right")

    def row(name: str, r: Rates) -> None:
        t.add_row(name, _pct(r.related), _pct(r.inconclusive), _pct(r.inconclusive_flagged),
                  _pct(r.inconclusive_no_power), _pct(r.independent))

    row("current: Holm over voting tests at 0.05", result.rates)
    row("previous: any voting test < 0.05 (unadjusted)", result.previous)
    return t


def tests_table(result: NullResult) -> Table:
    """Each voting test's p-values against U(0, 1): one-sided KS and a 10-bin histogram."""
    t = Table(title="Voting tests' p-values (one-sided KS: excess of small p)", title_justify="left")
    for col in ("test", "n", "KS D+", "KS p", "min p", "median p", "< 0.05", "< 0.01", "histogram [0,.1) … [.9,1]"):
        t.add_column(col, justify="left" if col in ("test", "histogram [0,.1) … [.9,1]") else "right")
    for name, u in result.tests.items():
        t.add_row(safe_name(name, 24), str(u.n), _g(u.ks_d), _g(u.ks_p), _g(u.min_p), _g(u.median_p),
                  _pct(u.below_0_05), _pct(u.below_0_01), " ".join(str(h) for h in u.histogram))
    return t


def tags_table(result: NullResult) -> Table:
    """Verdict counts for each value of each dimension of the panel."""
    t = Table(title="Verdicts by dimension (current rule)", title_justify="left")
    for col in ("dimension", "value", "pairs", "related", "inconclusive", "independent"):
        t.add_column(col, justify="left" if col in ("dimension", "value") else "right")
    for dim, per in result.tags.items():
        for value, counts in per.items():
            t.add_row(dim, safe_name(value, 32), str(counts["pairs"]), str(counts["related"]),
                      str(counts["inconclusive"]), str(counts["independent"]))
    return t


def misses_table(result: NullResult) -> Table:
    """The pairs not called independent (current rule), with their voting p-values: those a test flagged
    (a powerful test ran) first, then those no powerful test could decide."""
    missed = sorted((c for c in result.cases if c.verdict != "independent"), key=lambda c: not c.powerful)
    t = Table(title=f"Pairs not called independent ({len(missed)})", title_justify="left")
    for col in ("pair", "verdict", "combined p", "powerful", "voting p-values"):
        t.add_column(col)
    for c in missed[:MAX_LISTED]:
        ps = ", ".join(f"{safe_name(k, 16)}={v:.2g}" for k, v in c.p_values.items()) or safe_name(c.note, 60)
        t.add_row(safe_name(c.id, 90), c.verdict, _g(c.p_value), "yes" if c.powerful else "no", ps)
    return t


def renderable(result: NullResult) -> Group:
    notes = [Text(f"note: {safe_name(n, 200)}", style="dim") for n in result.notes]
    return Group(rates_table(result), tests_table(result), tags_table(result), misses_table(result), *notes)


def render_terminal(result: NullResult, console: Console) -> None:
    console.print(renderable(result))


def render_text(result: NullResult, width: int = 140) -> str:
    """Plain text of the terminal tables (no colour), for files and tests."""
    console = Console(width=width, record=True, color_system=None, force_terminal=False, file=io.StringIO())
    console.print(renderable(result))
    return console.export_text()


def render_json(result: NullResult) -> str:
    return json.dumps(result.to_dict(), indent=2) + "\n"
