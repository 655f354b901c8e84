"""Open a generated report in real headless Chromium: verdict shown, every plot drawn, nothing fetched."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import report_samples  # noqa: E402

from heredity.report import html, matrix_render  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (apt-get install chromium)"),
]


def _open(report: Path, shot: Path) -> dict[str, object]:
    """Load the report with every request routed; return what the page showed and what it asked for."""
    from playwright.sync_api import sync_playwright

    own = report.as_uri()
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})

        def route(r: object) -> None:
            url = r.request.url  # type: ignore[attr-defined]
            requests.append(url)
            (r.continue_ if url == own else r.abort)()  # type: ignore[attr-defined]

        page.route("**/*", route)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(own, wait_until="load")
        boxes = page.eval_on_selector_all(
            "figure.plot svg",
            "els => els.map(e => { const b = e.getBBox(); return [b.width, b.height, e.childElementCount]; })",
        )
        verdict = page.inner_text("#verdict") if page.query_selector("#verdict") else ""
        twin = page.eval_on_selector("#heredity-json", "e => JSON.parse(e.textContent)")
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    return {"requests": requests, "errors": errors, "boxes": boxes, "verdict": verdict, "twin": twin}


def test_report_renders_offline_in_chromium(tmp_path: Path) -> None:
    comp = report_samples.comparison(related=True)
    report = tmp_path / "report.html"
    report.write_text(html.render(comp), encoding="utf-8")
    seen = _open(report, tmp_path / "report.png")
    assert seen["requests"] == [report.as_uri()], "the report asked for something other than itself"
    assert seen["errors"] == []
    assert "RELATED" in str(seen["verdict"]) and comp.verdict.sentence in str(seen["verdict"])
    boxes = seen["boxes"]
    assert isinstance(boxes, list) and len(boxes) == 6
    assert all(w > 0 and h > 0 and n > 0 for w, h, n in boxes)
    assert seen["twin"] == comp.to_dict()
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_matrix_report_renders_offline_in_chromium(tmp_path: Path) -> None:
    from test_report_matrix import FakeEngine

    from heredity.matrix import compare_all

    result = compare_all(["base", "ft1", "ft2", "other", "ft3"], FakeEngine())
    report = tmp_path / "tree.html"
    report.write_text(matrix_render.render_html(result), encoding="utf-8")
    seen = _open(report, tmp_path / "tree.png")
    assert seen["requests"] == [report.as_uri()] and seen["errors"] == []
    boxes = seen["boxes"]
    assert isinstance(boxes, list) and len(boxes) == 2 and all(w > 0 and h > 0 for w, h, _ in boxes)
    assert seen["twin"] == result.to_dict()


REAL = Path(__file__).resolve().parents[2].parent / "shared" / "realmodels" / "llama2xs"


@pytest.mark.slow
@pytest.mark.skipif(not (REAL / "ckpt.pt").exists(), reason="real models missing from ../shared/realmodels")
def test_real_report_renders_offline_in_chromium(tmp_path: Path) -> None:
    from heredity.cli.main import main

    report = tmp_path / "real.html"
    assert main(["report", str(REAL / "ckpt.pt"), str(REAL / "model.bin"), "-o", str(report), "-q"]) == 0
    seen = _open(report, tmp_path / "real.png")
    assert seen["requests"] == [report.as_uri()] and seen["errors"] == []
    assert str(seen["verdict"]).startswith("RELATED")
    boxes = seen["boxes"]
    assert isinstance(boxes, list) and len(boxes) >= 5 and all(w > 0 and h > 0 for w, h, _ in boxes)
