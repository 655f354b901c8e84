"""Renderers: plain result data in, text out; they never compute statistics or read weights.

- :mod:`~heredity.report.terminal` — rich terminal view of a comparison (plain text off a TTY).
- :mod:`~heredity.report.json_render` — ``Comparison.to_dict()`` as strict JSON; :mod:`~heredity.report.schema`
  holds the ``heredity.compare/1`` schema and a small validator.
- :mod:`~heredity.report.html` — one self-contained HTML report (:mod:`~heredity.report.figures` picks the
  plots from evidence details, :mod:`~heredity.report.plots` draws them as inline SVG).
- :mod:`~heredity.report.matrix_render` — many models: p-value table, lineage tree, HTML.
- :mod:`~heredity.report.render` — ``render_as(comp, fmt)`` for ``--format``.

Submodules are imported on demand so that ``heredity`` starts without matplotlib.
"""
