"""The HTML report for one comparison: a single self-contained file.

Sections, in reading order: the verdict sentence and what the combined p-value means for a
non-expert; the two models; the evidence table; the plots (per-layer curves, aligned-vector scatter,
layer similarity with alignment path, expert match map, null distributions — whichever the evidence
supports, with a note where one is missing); provenance (heredity version, exact command, sources,
sha256 of every tensor read); and a JSON twin (``<script type="application/json" id="heredity-json">``)
holding exactly ``Comparison.to_dict()``.  Plots are inline SVG (see :mod:`heredity.report.plots` for
why); every value from a checkpoint or the command line is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Mapping

from heredity.errors import safe_name
from heredity.report import fmt
from heredity.report.figures import Figure, figures_for
from heredity.report.html_page import esc, page, table
from heredity.results import Comparison, ModelSummary

OPEN_TENSOR_LIST = 20  # longer tensor lists start folded (the JSON twin and the page still hold them all)


def verdict_section(comp: Comparison) -> str:
    """Label and sentence, combined p-value in numbers and in words, why, and power."""
    v = comp.verdict
    p_line = (
        f"Combined p-value: <b>{esc(fmt.format_p(v.p_value))}</b> ({esc(fmt.p_in_words(v.p_value))}). "
        f"{esc(fmt.LABEL_MEANING.get(v.label, ''))} Threshold for 'related': {esc(fmt.format_p(v.threshold))}."
    )
    extra = "".join(f"<p><b>{k}:</b> {esc(t)}</p>" for k, t in (("Why", v.reason), ("Power", v.power)) if t)
    extra += "".join(f"<p>{esc(e.context)}</p>" for e in comp.evidence if e.applicable and e.context)
    return (
        f'<section class="verdict {esc(v.label)}" id="verdict"><p><span class="label">{esc(fmt.label_text(v.label))}</span>: '
        f"{esc(v.sentence)}</p><p>{p_line}</p>{extra}</section>"
    )


def _model_row(side: str, m: ModelSummary) -> list[str]:
    def opt(x: int | None) -> str:
        return "-" if x is None else esc(x)

    family = esc(m.family) + (" (inferred)" if m.inferred else "")
    kind = esc(m.format) + (" (fingerprint)" if m.is_fingerprint else "")
    return [side, f'<span class="mono">{esc(m.source)}</span>', kind, family, opt(m.layers), opt(m.hidden_size), opt(m.experts), "-" if m.params is None else f"{m.params:,}"]


def models_section(comp: Comparison) -> str:
    rows = [_model_row("A", comp.a), _model_row("B", comp.b)]
    headers = ["", "source", "format", "family", "layers", "hidden", "experts", "params"]
    warn = "".join(f'<p class="note">{esc(line)}</p>' for line in fmt.nonfinite_lines(comp.nonfinite))
    return "<h2>Models</h2>" + table(headers, rows, numeric=frozenset({4, 5, 6, 7})) + warn


def evidence_section(comp: Comparison) -> str:
    rows = []
    for ev in comp.evidence:
        found = ev.summary if ev.applicable else f"not run: {ev.reason or 'no reason given'}"
        rows.append([f"<b>{esc(ev.test)}</b>", esc(ev.compares or "-"), esc(fmt.format_stat(ev.statistic)),
                     esc(fmt.format_p(ev.p_value)), esc(fmt.evidence_role(ev)), esc(found)])
    note = ('<p class="muted">Descriptive tests measure similarity of function or training recipe, not lineage; '
            "they are shown but never decide the verdict.</p>")
    return "<h2>Evidence</h2>" + table(["test", "compares", "statistic", "p-value", "counts as", "finding"], rows, frozenset({2, 3})) + note


def figure_html(fig: Figure) -> str:
    if fig.svg is None:
        return f'<p class="note">{esc(fig.title)}: plot skipped: {esc(fig.note)}</p>'
    return f'<figure class="plot">{fig.svg}<figcaption>{esc(fig.caption)}</figcaption></figure>'


def plots_section(figures: list[Figure]) -> str:
    if not figures:
        return '<h2>Plots</h2><p class="note">No test that ran attached a plot.</p>'
    return '<h2>Plots</h2><div class="plots">' + "\n".join(figure_html(f) for f in figures) + "</div>"


def _hash_rows(comp: Comparison) -> tuple[list[list[str]], bool]:
    """(side, tensor, sha256) rows; hashes from ``extras['tensor_sha256']`` when the engine gave them."""
    hashes = comp.extras.get("tensor_sha256")
    have = isinstance(hashes, Mapping)
    rows = []
    for side in ("a", "b"):
        side_hashes = hashes.get(side, {}) if isinstance(hashes, Mapping) else {}
        for name in comp.tensors_read.get(side, ()):
            digest = side_hashes.get(name, "not recorded") if isinstance(side_hashes, Mapping) else "not recorded"
            digest = f"{digest}{_rows_note(comp, side, name)}"
            rows.append([side.upper(), f'<span class="mono">{esc(safe_name(name))}</span>', f'<span class="mono">{esc(digest)}</span>'])
    return rows, have


HASH_NOTE = ("sha256 of the float32 values each read returned (C order, little-endian, shape not included); "
             "a tensor read only in part is hashed over the rows read, listed after the hash "
             "(several parts: sha256 of the parts' hex digests in row order).")


def _rows_note(comp: Comparison, side: str, name: str) -> str:
    """`` (rows 0-128)`` for a tensor the engine read only in part, else empty."""
    rows = comp.extras.get("tensor_rows")
    ranges = rows.get(side, {}).get(name) if isinstance(rows, Mapping) and isinstance(rows.get(side), Mapping) else None
    if not isinstance(ranges, list) or not ranges:
        return ""
    shown = ", ".join(f"{r[0]}-{r[1]}" for r in ranges[:8] if isinstance(r, list) and len(r) == 2)
    more = f" and {len(ranges) - 8} more" if len(ranges) > 8 else ""
    return f" (rows {shown}{more})"


def provenance_section(comp: Comparison) -> str:
    facts = [
        ["heredity version", esc(comp.version or "unknown")],
        ["command", f"<code>{esc(comp.command or 'not recorded')}</code>"],
        ["source A", f'<span class="mono">{esc(comp.a.source)}</span>'],
        ["source B", f'<span class="mono">{esc(comp.b.source)}</span>'],
        ["bytes read", esc(", ".join(f"{k.upper()}: {fmt.format_bytes(v)}" for k, v in comp.bytes_read.items()) or "-")],
        ["time", esc(fmt.format_seconds(comp.seconds))],
    ]
    rows, have = _hash_rows(comp)
    note = (f'<p class="muted">{esc(HASH_NOTE)}</p>' if have else
            '<p class="note">The engine did not record tensor hashes for this comparison; names only.</p>')
    state = " open" if len(rows) <= OPEN_TENSOR_LIST else ""
    hashes = f"<details{state}><summary>{len(rows)} tensors read (sha256)</summary>{note}{table(['side', 'tensor', 'sha256'], rows)}</details>"
    return "<h2>Provenance</h2>" + table(["", ""], facts) + hashes


def render(comp: Comparison) -> str:
    """The complete HTML document for one comparison."""
    title = f"heredity: {safe_name(comp.a.source, 80)} vs {safe_name(comp.b.source, 80)}"
    body = "\n".join([
        f"<h1>{esc(title)}</h1>",
        verdict_section(comp),
        models_section(comp),
        evidence_section(comp),
        plots_section(figures_for(comp)),
        provenance_section(comp),
    ])
    return page(title, body, comp.to_dict())
