"""One entry point for rendering a comparison in a named format (what ``--format`` selects)."""

from __future__ import annotations

from heredity.errors import UsageError
from heredity.results import Comparison

FORMATS = ("terminal", "json", "html")


def render_as(comp: Comparison, fmt: str, width: int = 100) -> str:
    """The comparison as text in ``fmt``: plain terminal text, ``heredity.compare/1`` JSON, or HTML."""
    if fmt == "terminal":
        from heredity.report import terminal

        return terminal.render_text(comp, width=width)
    if fmt == "json":
        from heredity.report import json_render

        return json_render.render(comp)
    if fmt == "html":
        from heredity.report import html

        return html.render(comp)
    raise UsageError(f"unknown format '{fmt}'", fix=f"choose one of: {', '.join(FORMATS)}")
