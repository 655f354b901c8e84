"""The HTML page shell shared by the comparison report and the matrix report.

One inline stylesheet, no scripts to run, no external resource: the page must open offline and send
no request.  Everything interpolated is escaped by the callers with :func:`esc`; the JSON twin is
embedded with ``<``, ``>`` and ``&`` as ``\\u`` escapes, so no value can close the ``<script>`` block.
"""

from __future__ import annotations

import html
from typing import Any

from heredity.report.json_render import dumps

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1d232b;line-height:1.45}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #dde3ea}
.verdict{border-left:6px solid #888;background:#f6f8fa;padding:.8em 1.2em;margin:1em 0}
.verdict.related{border-color:#c0392b}.verdict.independent{border-color:#1e8449}
.verdict.inconclusive{border-color:#b9770e}
.label{font-weight:700;letter-spacing:.05em}.related .label{color:#c0392b}
.independent .label{color:#1e8449}.inconclusive .label{color:#b9770e}
.label.related{color:#c0392b}.label.independent{color:#1e8449}.label.inconclusive{color:#b9770e}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border-bottom:1px solid #e3e7ec;padding:.3em .7em;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.88em;word-break:break-all}
.plots{display:flex;flex-wrap:wrap;gap:1.2em 2em;align-items:flex-start}
figure{margin:.6em 0;max-width:100%}figure svg{max-width:100%;height:auto}
figcaption{color:#555;font-size:.88em;max-width:36em}
.note{color:#7a5a00;font-style:italic;flex-basis:100%}.muted{color:#666}
"""


def esc(value: Any) -> str:
    """HTML-escape any value (quotes included), so it is safe in text and in attributes."""
    return html.escape(str(value), quote=True)


def json_twin(obj: Any) -> str:
    """The machine-readable twin as a non-executable script block that no value can break out of."""
    text = dumps(obj, indent=None).replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return f'<script type="application/json" id="heredity-json">{text}</script>'


def table(headers: list[str], rows: list[list[str]], numeric: frozenset[int] = frozenset()) -> str:
    """A table from already-escaped cell HTML; columns in ``numeric`` are right-aligned."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, body: str, twin: Any) -> str:
    """A complete self-contained HTML document."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n{json_twin(twin)}\n</body></html>\n"
    )
