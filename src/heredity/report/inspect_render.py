"""Terminal rendering of an :class:`~heredity.inspect.InspectResult` with rich.

Order: what the model is (family, format, source), its structure, parameter count and dtypes, the roles
found, then what needs attention (unknown names, warnings) and how it was recognised (notes).  Every
string that came from a checkpoint is escaped for control characters and rich markup; long unknown
lists are cut with a count so a hostile file cannot flood the terminal.
"""

from __future__ import annotations

import io

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from heredity.errors import safe_name
from heredity.inspect import InspectResult

MAX_UNKNOWN_SHOWN = 20


def _safe(text: object) -> str:
    return escape(safe_name(text))


def _value(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


def human_params(n: int) -> str:
    """``135_000_000`` -> ``"135.0M"``; exact below a thousand."""
    for unit, size in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def structure_grid(r: InspectResult) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    rows = [
        ("layers", _value(r.layers)), ("hidden size", _value(r.hidden_size)),
        ("heads / kv heads", f"{_value(r.heads)} / {_value(r.kv_heads)}"),
        ("intermediate size", _value(r.intermediate_size)), ("vocab size", _value(r.vocab_size)),
    ]  # fmt: skip
    if r.experts:
        rows += [
            ("experts", f"{r.experts} routed, {_value(r.experts_per_token)} per token, "
                        f"{_value(r.expert_groups)} groups, {_value(r.shared_experts)} shared"),
        ]  # fmt: skip
    rows += [("parameters", f"{human_params(r.params)} ({r.params:,})"),
             ("dtypes", ", ".join(f"{_safe(k)} x{v}" for k, v in r.dtypes.items()) or "-")]  # fmt: skip
    for key, value in rows:
        grid.add_row(key, value)
    return grid


def roles_table(r: InspectResult, per_row: int = 4) -> Table:
    """Roles and their tensor counts, several pairs per row so a MoE model still fits on a screen."""
    table = Table(title="Roles found (tensors per role)", title_justify="left", show_header=False, box=None,
                  padding=(0, 1))  # fmt: skip
    for _ in range(per_row):
        table.add_column(no_wrap=True)
        table.add_column(justify="right", style="bold")
    items = list(r.roles.items())
    for start in range(0, len(items), per_row):
        row: list[str] = []
        for role, count in items[start : start + per_row]:
            row += [_safe(role), str(count)]
        table.add_row(*row)
    return table


def wrapper_lines(r: InspectResult) -> list[RenderableType]:
    """The wrapper prefix stripped and the other components (towers) beside the mapped model."""
    out: list[RenderableType] = []
    if r.prefix_stripped:
        out.append(_markup(f"[bold]wrapper prefix stripped:[/bold] {_safe(r.prefix_stripped)}"))
    if r.components:
        out.append(_markup(f"[bold]other components ({len(r.components)}, not mapped):[/bold]"))
        shown = r.components[:MAX_UNKNOWN_SHOWN]
        out += [
            _markup(f"  {_safe(c.prefix)}  {c.tensors} tensors, {human_params(c.params)} parameters")
            for c in shown
        ]
        if len(r.components) > len(shown):
            out.append(Text(f"  ... and {len(r.components) - len(shown)} more"))
    return out


def attention_lines(r: InspectResult) -> list[RenderableType]:
    out: list[RenderableType] = wrapper_lines(r)
    if r.unknown_tensors:
        shown = [_safe(n) for n in r.unknown_tensors[:MAX_UNKNOWN_SHOWN]]
        more = len(r.unknown_tensors) - len(shown)
        out.append(_markup(f"[bold]unknown tensors ({len(r.unknown_tensors)}):[/bold]"))
        out += [_markup(f"  {n}") for n in shown]
        if more:
            out.append(Text(f"  ... and {more} more"))
    out += [_markup(f"[yellow]warning:[/yellow] {_safe(w)}") for w in r.warnings]
    if r.nonfinite is not None:
        out += [_markup(f"[yellow]NaN/Inf:[/yellow] tensor '{_safe(n)}' has {c:,} non-finite values")
                for n, c in r.nonfinite.items()] or [Text("values scanned: every tensor is finite")]
    out += [_markup(f"[dim]note:[/dim] {_safe(n)}") for n in r.notes]
    return out


def inspect_renderable(r: InspectResult) -> RenderableType:
    kind = "inferred layout" if r.inferred else "family table"
    head = _markup(f"[bold]{_safe(r.family)}[/bold] ({_safe(r.format)}, {kind})  {_safe(r.source)}")
    return Group(head, structure_grid(r), roles_table(r), *attention_lines(r))


def _markup(text: str) -> Text:
    """Our markup around escaped names; ``:name:`` emoji codes (which escaping leaves alone) stay text."""
    return Text.from_markup(text, emoji=False)


def render(r: InspectResult, console: Console) -> None:
    console.print(inspect_renderable(r))


def render_text(r: InspectResult, width: int = 100) -> str:
    """Plain text at a fixed width (tests, files, pipes)."""
    buf = io.StringIO()
    console = Console(
        file=buf, width=width, no_color=True, color_system=None, force_terminal=False, highlight=False, emoji=False
    )
    render(r, console)
    return buf.getvalue()
