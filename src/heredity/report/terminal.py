"""Terminal rendering of a :class:`~heredity.results.Comparison` with rich.

Order follows what a reader needs: the verdict in one sentence (coloured label) first, then the
evidence table (test, what it compares, statistic, p-value, whether it counts toward the verdict),
then the findings in words, then what was read.  Rich drops colour by itself when the console is not
a terminal or ``NO_COLOR`` is set; every name that came from a checkpoint is escaped with
:func:`heredity.errors.safe_name` and rich markup is escaped too, so a hostile tensor name can neither
inject terminal control sequences nor rich markup.
"""

from __future__ import annotations

import io

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from heredity.errors import safe_name
from heredity.report import fmt
from heredity.results import Comparison, Evidence, ModelSummary


def safe(text: object) -> str:
    """Escape untrusted text twice: control characters (safe_name) and rich markup."""
    return escape(safe_name(text))


def verdict_line(comp: Comparison) -> Text:
    """The verdict label in its colour, then the verdict sentence and the combined p-value."""
    v = comp.verdict
    line = Text()
    line.append(fmt.label_text(v.label), style=fmt.LABEL_STYLE.get(v.label, "bold"))
    line.append(": " + fmt.clean_text(v.sentence))
    line.append(f"  (combined p = {fmt.format_p(v.p_value)})")
    return line


def evidence_table(evidence: tuple[Evidence, ...]) -> Table:
    """One row per test: name, what it compares, statistic, p-value, how it counts."""
    table = Table(title="Evidence", title_justify="left", expand=False)
    for name, justify in (("test", "left"), ("compares", "left"), ("statistic", "right"), ("p-value", "right"), ("counts as", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for ev in evidence:
        table.add_row(
            safe(ev.test),
            escape(ev.compares or "-"),
            fmt.format_stat(ev.statistic),
            fmt.format_p(ev.p_value),
            fmt.evidence_role(ev),
        )
    return table


def findings(evidence: tuple[Evidence, ...]) -> Table:
    """One row per test in words: its summary, or why it could not run (wrapped under itself)."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for ev in evidence:
        said = ev.summary if ev.applicable else f"not run: {ev.reason or 'no reason given'}"
        if said:
            grid.add_row(f"- {safe(ev.test)}:", escape(fmt.clean_text(said)))
    return grid


def model_line(side: str, m: ModelSummary) -> str:
    """``A: path (safetensors, llama, 12 layers, hidden 768, 124.4M params)``."""
    bits = [m.format, m.family + (" (inferred)" if m.inferred else "")]
    if m.layers is not None:
        bits.append(f"{m.layers} layers")
    if m.hidden_size is not None:
        bits.append(f"hidden {m.hidden_size}")
    if m.experts:
        bits.append(f"{m.experts} experts")
    if m.params is not None:
        bits.append(f"{m.params / 1e6:.1f}M params")
    if m.is_fingerprint:
        bits.append("fingerprint")
    return f"{side}: {safe(m.source)} ({', '.join(escape(safe_name(b)) for b in bits)})"


def read_lines(comp: Comparison) -> list[str]:
    """What the comparison rests on: tensors and bytes read per side, and the time it took."""
    lines = []
    for side in ("a", "b"):
        names = comp.tensors_read.get(side, ())
        nbytes = comp.bytes_read.get(side)
        size = f", {fmt.format_bytes(nbytes)} of stored bytes (each tensor part counted once)" if nbytes else ""
        lines.append(f"read from {side.upper()}: {len(names)} tensors{size}")
    lines.append(f"time: {fmt.format_seconds(comp.seconds)}; heredity {escape(comp.version or '?')}")
    if comp.plan.mode == "adaptive":
        lines.append(escape(fmt.plan_line(comp)))
    return lines


def comparison_renderable(comp: Comparison) -> RenderableType:
    """The whole terminal view as one rich renderable (tests render it at a fixed width)."""
    parts: list[RenderableType] = [verdict_line(comp)]
    if comp.verdict.reason:
        parts.append(Text("why: " + fmt.clean_text(comp.verdict.reason)))
    if comp.verdict.power:
        parts.append(Text("power: " + fmt.clean_text(comp.verdict.power)))
    parts += ["", model_line("A", comp.a), model_line("B", comp.b), ""]
    parts.append(evidence_table(comp.evidence))
    parts += [findings(comp.evidence), ""]
    parts.extend(Text(line, style="yellow") for line in fmt.nonfinite_lines(comp.nonfinite))
    parts.extend(read_lines(comp))
    return Group(*parts)


def render(comp: Comparison, console: Console) -> None:
    """Print the comparison on ``console``."""
    console.print(comparison_renderable(comp), soft_wrap=False)


def render_text(comp: Comparison, width: int = 100) -> str:
    """Plain text at a fixed width, no colour, no trailing spaces (golden tests, ``-o file.txt``)."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, no_color=True, color_system=None, force_terminal=False, highlight=False,
                      emoji=False)
    render(comp, console)
    return "".join(line.rstrip() + "\n" for line in buf.getvalue().splitlines())
