"""HTML report: self-contained, escaped, JSON twin intact, plots present or explained."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import report_samples  # noqa: E402

from heredity.plotdata import CurvesPlot, HeatmapPlot, NullPlot, ScatterPanel, ScatterPlot
from heredity.report import html  # noqa: E402
from heredity.results import Evidence, Exclusion  # noqa: E402

TWIN = re.compile(r'<script type="application/json" id="heredity-json">(.*?)</script>', re.S)


def _twin(page: str) -> object:
    match = TWIN.search(page)
    assert match is not None
    return json.loads(match.group(1))


def test_report_is_self_contained() -> None:
    page = html.render(report_samples.comparison())
    # the only URLs allowed are SVG namespaces and inline data
    urls = set(re.findall(r'(?:src|href)="([^"#][^"]*)"', page))
    assert all(u.startswith("data:") for u in urls), urls
    assert "<script src" not in page and "<link" not in page and "@import" not in page
    assert page.count("<svg") == 6


def test_report_content() -> None:
    comp = report_samples.comparison()
    page = html.render(comp)
    assert "RELATED</span>: A and B share lineage." in page
    assert "about 1 in 167 billion" in page
    assert comp.command in page and "0.1.0" in page
    assert "ab" * 32 in page and "cd" * 32 in page
    assert _twin(page) == comp.to_dict()


def test_everything_is_escaped_and_twin_cannot_break_out() -> None:
    comp = report_samples.comparison()
    evil = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
    comp = dataclasses.replace(
        comp, a=dataclasses.replace(comp.a, source=evil), command=evil,
        tensors_read={"a": (evil,), "b": ()},
        evidence=(Evidence("vectors", True, 0.5, 0.5, summary=evil),),
    )
    page = html.render(comp)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert page.count("</script>") == 1
    assert _twin(page) == comp.to_dict()


def test_missing_hashes_are_stated() -> None:
    page = html.render(report_samples.comparison(extras={}))
    assert "did not record tensor hashes" in page and "not recorded" in page


def test_bad_plot_data_becomes_notes_not_crashes() -> None:
    comp = report_samples.comparison()
    nan = float("nan")
    odd = (
        Evidence("layers", True, 0.1, 0.5, plots=(HeatmapPlot("layers: heat", "c", ((1.0, 2.0), (3.0,)), "x", "y", "z"),)),
        Evidence("attn_std", True, 0.1, None, descriptive=True, plots=(CurvesPlot("c", "c", {"q": (nan,)}, {}),)),
        Evidence("matching", True, 0.1, 0.5, plots=(NullPlot("n", "c", (nan, nan), 1.0, "s"),)),
        Evidence("vectors", True, 0.1, 0.5, plots=(ScatterPlot("s", "c", (ScatterPanel("x", (1.0,), ()),)),)),
    )
    page = html.render(dataclasses.replace(comp, evidence=odd))
    assert page.count('class="note"') >= 4 and "<svg" not in page


def test_inconclusive_without_p_value_is_explained() -> None:
    from heredity.report import terminal
    from heredity.results import Verdict

    verdict = Verdict("inconclusive", None, "No lineage test could run on these models.", reason="unknown family")
    comp = report_samples.comparison(verdict=verdict, evidence=(Evidence("vectors", False, reason="no vectors",
                                                                                   excluded=Exclusion.MISSING),))
    page = html.render(comp)
    assert 'class="verdict inconclusive"' in page and "no combined p-value (no test could run)" in page
    assert "No test that ran attached a plot." in page
    assert terminal.render_text(comp).startswith("INCONCLUSIVE: No lineage test could run on these models.  (combined p = -)")
