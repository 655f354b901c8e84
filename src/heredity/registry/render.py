"""Renderers for registry results: rich tables, JSON, HTML.  They format; they never compute."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from heredity.errors import safe_name
from heredity.registry.search import SearchResult
from heredity.registry.store import Entry


def text(value: object, limit: int = 200) -> str:
    """A name from untrusted input, escaped for the terminal and for rich markup."""
    return escape(safe_name(value, limit))


VERDICT_STYLE = {"related": "bold red", "independent": "green", "inconclusive": "yellow"}


def _p(p: float | None) -> str:
    return "-" if p is None else f"{p:.3g}"


def entries_table(entries: Sequence[Entry], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("name", "family", "shape", "params", "key", "source"):
        table.add_column(col, overflow="fold")
    for e in entries:
        table.add_row(text(e.name, 60), text(e.family), e.shape, "-" if e.params is None else f"{e.params:,}",
                      e.key[:12], text(e.source, 80))
    return table


def entry_table(e: Entry) -> Table:
    table = Table(show_header=False, title=text(e.name), title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for k, v in e.to_dict().items():
        table.add_row(k, "-" if v is None else text(v, 200))
    return table


def search_terminal(result: SearchResult, console: Console, top: int) -> None:
    q = result.query
    console.print(f"[bold]query[/bold] {text(q.source)}  ({text(q.family)}, {q.shape}, key {q.key[:12]})",
                  markup=True)
    if q.registered_as is not None:
        console.print(f"this exact content is registered as {text(q.registered_as)}")
    table = Table(title=f"{len(result.matches)} compared of {result.entries_searched} searched "
                        f"(Holm over all {result.entries_searched})", title_justify="left")
    for col in ("#", "entry", "verdict", "p", "p adjusted", "family", "source"):
        table.add_column(col, overflow="fold")
    for i, m in enumerate(result.matches[:top], 1):
        style = VERDICT_STYLE.get(m.verdict, "")
        table.add_row(str(i), text(m.name, 60), f"[{style}]{m.verdict}[/{style}]", _p(m.p_value),
                      _p(m.p_adjusted), text(m.family), text(m.source, 60))
    if result.matches:
        console.print(table)
    console.print(f"[bold]{result.outcome}[/bold]: {result.sentence}")


def search_json(result: SearchResult, top: int) -> str:
    return json.dumps(result.to_dict(top), indent=2) + "\n"


def search_html(result: SearchResult, top: int) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{i}</td><td>{e(m.name)}</td><td class='{e(m.verdict)}'>{e(m.verdict)}</td><td>{_p(m.p_value)}</td>"
        f"<td>{_p(m.p_adjusted)}</td><td>{e(m.family)}</td><td>{e(m.source)}</td></tr>"
        for i, m in enumerate(result.matches[:top], 1))
    q = result.query
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>heredity registry search</title><style>"
        "body{font-family:sans-serif;margin:2em}td,th{padding:4px 10px;border-bottom:1px solid #ddd}"
        ".related{color:#b00;font-weight:bold}.independent{color:#070}.inconclusive{color:#a60}</style></head><body>"
        f"<h1>Registry search</h1><p>query <b>{e(q.source)}</b> ({e(q.family)}, {e(q.shape)})</p>"
        f"<p><b>{e(str(result.outcome))}</b>: {e(result.sentence)}</p>"
        f"<p>{len(result.matches)} entries compared in full of {result.entries_searched} searched; p-values "
        f"Holm-adjusted over all {result.entries_searched}.</p>"
        "<table><tr><th>#</th><th>entry</th><th>verdict</th><th>p</th><th>p adjusted</th><th>family</th>"
        f"<th>source</th></tr>{rows}</table></body></html>\n"
    )
