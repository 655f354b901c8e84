"""Matrix engine (open once, compare pairs, lineage forest) and its terminal / JSON / HTML renderers."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import report_samples  # noqa: E402

from heredity.errors import UsageError  # noqa: E402
from heredity.matrix import MatrixResult, compare_all, orient, spanning_forest  # noqa: E402
from heredity.report import matrix_render  # noqa: E402
from heredity.results import Comparison  # noqa: E402

# ground truth for the fake engine: base -> ft1 -> ft2, base -> ft3; other is independent
P = {("base", "ft1"): 1e-30, ("base", "ft2"): 1e-12, ("ft1", "ft2"): 1e-40, ("base", "ft3"): 1e-20,
     ("ft1", "ft3"): 1e-9, ("ft2", "ft3"): 1e-8}


class FakeEngine:
    """Counts opens; compares by looking the pair up in P (absent pairs are independent)."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    def open(self, source: str) -> Any:
        self.opened.append(source)
        return {"name": source}

    def compare(self, a: Any, b: Any, *, tests: list[str] | None, seed: int) -> Comparison:
        p = P.get((a["name"], b["name"])) or P.get((b["name"], a["name"]))
        comp = report_samples.comparison(related=p is not None)
        verdict = dataclasses.replace(comp.verdict, p_value=p if p is not None else 0.4)
        return dataclasses.replace(comp, verdict=verdict)


@pytest.fixture
def result() -> MatrixResult:
    engine = FakeEngine()
    res = compare_all(["base", "ft1", "ft2", "other", "ft3"], engine)
    assert engine.opened == ["base", "ft1", "ft2", "other", "ft3"]  # each model opened once
    return res


def test_forest_follows_strongest_ties(result: MatrixResult) -> None:
    assert len(result.pairs) == 10
    assert result.roots == ("base", "other")
    assert [(e.parent, e.child) for e in result.edges] == [("base", "ft1"), ("base", "ft3"), ("ft1", "ft2")]
    assert result.edges[0].weight == pytest.approx(30.0)


def test_independent_pairs_never_become_edges() -> None:
    comp = report_samples.comparison(related=False)
    assert spanning_forest(3, {(0, 1): comp, (0, 2): comp, (1, 2): comp}) == []
    edges, roots = orient(["a", "b", "c"], [])
    assert edges == () and roots == ("a", "b", "c")


def test_matrix_needs_two_distinct_models() -> None:
    with pytest.raises(UsageError):
        compare_all(["one"], FakeEngine())
    with pytest.raises(UsageError):
        compare_all(["one", "one"], FakeEngine())


def test_progress_reports_each_step(result: MatrixResult) -> None:
    seen: list[tuple[str, int, int]] = []
    compare_all(["base", "ft1", "ft2"], FakeEngine(), progress=lambda s, d, t: seen.append((s, d, t)))
    assert seen[-1] == ("comparing pairs", 3, 3) and seen[2] == ("opening models", 3, 3)


def test_terminal_tree(result: MatrixResult) -> None:
    text = matrix_render.render_text(result)
    assert text.startswith("5 models, 10 pairs: 6 related, 4 independent, 0 inconclusive; 2 lineage group(s)")
    assert "rel 1.0e-30" in text and "ind " in text  # the verdict, not only the p-value, in each cell
    lines = text.splitlines()
    tree = lines[lines.index(next(x for x in lines if x.startswith("lineage"))):]
    assert [x.strip(" │├└─") for x in tree[1:6]] == ["base", "ft1  (p = 1.0e-30)", "ft2  (p = 1.0e-40)", "ft3  (p = 1.0e-20)", "other"]


def test_json_and_html(result: MatrixResult) -> None:
    doc = json.loads(matrix_render.render_json(result))
    assert doc["schema"] == "heredity.matrix/1" and doc["tree"]["roots"] == ["base", "other"]
    assert doc["p_values"][0][1] == 1e-30 and doc["p_values"][1][1] is None and len(doc["pairs"]) == 10
    page = matrix_render.render_html(result)
    assert page.count("<svg") == 2 and 'id="heredity-json"' in page and "ft3" in page
