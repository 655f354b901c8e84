"""Rendering of a :class:`heredity.matrix.MatrixResult`: terminal (table + lineage tree), JSON, HTML.

The lineage forest is drawn as a rich ``Tree`` in the terminal and as an SVG (with a heat map of
``-log10 p`` for every pair) in the HTML page; the JSON twin is ``MatrixResult.to_dict()``.
"""

from __future__ import annotations

import io

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.tree import Tree

from heredity.errors import safe_name
from heredity.matrix import MatrixResult, weight
from heredity.report import fmt, plots
from heredity.report.html_page import esc, page, table
from heredity.report.json_render import dumps
from heredity.report.terminal import safe


def short_names(result: MatrixResult) -> list[str]:
    """Column labels M1..Mn (full sources are listed beside them)."""
    return [f"M{i + 1}" for i in range(len(result.names))]


def p_table(result: MatrixResult) -> Table:
    """The verdict and combined p-value of every pair (``rel 4.3e-54``); the label also colours the cell,
    so inconclusive and independent pairs with similar p-values still look different."""
    labels = short_names(result)
    t = Table(title="Verdict and combined p-value per pair (rel = related, ind = independent, "
                    "inc = inconclusive)", title_justify="left")
    t.add_column("model")
    for label in labels:
        t.add_column(label, justify="right")
    for i, row_label in enumerate(labels):
        cells = []
        for j in range(len(labels)):
            comp = result.pair(i, j)
            text = "-" if comp is None else (f"{fmt.LABEL_SHORT.get(comp.verdict.label, '?')} "
                                             f"{fmt.format_p(comp.verdict.p_value)}")
            style = "" if comp is None else fmt.LABEL_STYLE.get(comp.verdict.label, "")
            cells.append(f"[{style}]{text}[/]" if style else text)
        t.add_row(f"{row_label} {safe(result.names[i])}", *cells)
    return t


def lineage_tree(result: MatrixResult) -> Tree:
    """The lineage forest as one rich Tree (a virtual root holds the separate components)."""
    top = Tree("lineage (roots listed first on the command line; edges: combined p)")

    def grow(node: Tree, name: str) -> None:
        for edge in result.children(name):
            grow(node.add(f"{safe(edge.child)}  [dim](p = {fmt.format_p(edge.p_value)})[/]"), edge.child)

    for root in result.roots:
        grow(top.add(safe(root)), root)
    return top


def terminal_renderable(result: MatrixResult) -> RenderableType:
    count = {label: sum(1 for c in result.pairs.values() if c.verdict.label == label) for label in fmt.LABEL_SHORT}
    head = (f"{len(result.names)} models, {len(result.pairs)} pairs: {count['related']} related, "
            f"{count['independent']} independent, {count['inconclusive']} inconclusive; "
            f"{len(result.roots)} lineage group(s)")
    return Group(head, "", p_table(result), lineage_tree(result))


def render(result: MatrixResult, console: Console) -> None:
    console.print(terminal_renderable(result), soft_wrap=False)


def render_text(result: MatrixResult, width: int = 100) -> str:
    buf = io.StringIO()
    render(result, Console(file=buf, width=width, no_color=True, color_system=None, force_terminal=False, highlight=False,
                          emoji=False))
    return "".join(line.rstrip() + "\n" for line in buf.getvalue().splitlines())


def render_json(result: MatrixResult) -> str:
    return dumps(result.to_dict()) + "\n"


def tree_positions(result: MatrixResult) -> dict[str, tuple[float, float]]:
    """(x, depth) per model: leaves left to right in tree order, parents centred over their children."""
    pos: dict[str, tuple[float, float]] = {}
    next_x = [0.0]

    def place(name: str, depth: int) -> float:
        xs = [place(e.child, depth + 1) for e in result.children(name)]
        x = sum(xs) / len(xs) if xs else next_x[0]
        if not xs:
            next_x[0] += 1.0
        pos[name] = (x, float(depth))
        return x

    for root in result.roots:
        place(root, 0)
    return pos


def _html_plots(result: MatrixResult) -> str:
    labels = short_names(result)
    tree = plots.lineage_tree(
        {labels[result.names.index(k)]: v for k, v in tree_positions(result).items()},
        [(labels[result.names.index(e.parent)], labels[result.names.index(e.child)], f"p={fmt.format_p(e.p_value)}") for e in result.edges],
        "lineage forest (related pairs only)",
    )
    strength = [[0.0 if p is None else weight(p) for p in row] for row in result.p_matrix()]
    heat = plots.heatmap(strength, "pairwise evidence", "model", "model", colorbar="-log10 combined p", xticks=labels, yticks=labels)
    return f'<div class="plots"><figure class="plot">{tree}</figure><figure class="plot">{heat}</figure></div>'


def render_html(result: MatrixResult) -> str:
    labels = short_names(result)
    models = table(["", "source"], [[esc(lab), f'<span class="mono">{esc(safe_name(n))}</span>'] for lab, n in zip(labels, result.names, strict=True)])
    rows = [[esc(labels[i]), esc(labels[j]), f'<span class="label {esc(c.verdict.label)}">{esc(c.verdict.label)}</span>',
             esc(fmt.format_p(c.verdict.p_value)), esc(c.verdict.sentence)] for (i, j), c in sorted(result.pairs.items())]
    body = "\n".join([
        "<h1>heredity: lineage of " + esc(len(result.names)) + " models</h1>",
        "<h2>Models</h2>" + models,
        "<h2>Lineage</h2><p>Edges join models whose combined p-value says <em>related</em>; each model hangs under the "
        "model it is most strongly tied to. Direction is not inferred: each group is rooted at its first-listed model.</p>",
        _html_plots(result),
        "<h2>Pairs</h2>" + table(["A", "B", "verdict", "p-value", "sentence"], rows, frozenset({3})),
        f'<p class="muted">heredity {esc(result.version or "?")}; command: <code>{esc(result.command or "not recorded")}</code></p>',
    ])
    return page(f"heredity matrix ({len(result.names)} models)", body, result.to_dict())
