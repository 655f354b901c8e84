"""The MoGE-upcycle case end to end (quick plan): the upcycled pair is related, the scratch MoGE is not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

from heredity.case.moge_upcycle import QUICK, null_pairs  # noqa: E402
from heredity.cli.main import main  # noqa: E402


def test_null_pairs_exclude_the_upcycled_model_and_the_pair_under_study() -> None:
    models = {n: n for n in ("dense", "upcycled", "independent", "null-dense-s12", "null-moge-s17")}
    pairs = null_pairs(models)
    assert all("upcycled" not in p for p in pairs)
    assert ("dense", "independent") not in pairs and len(pairs) == 5


def test_quick_plan_is_small() -> None:
    assert QUICK.steps <= 200 and len(QUICK.null_dense_seeds) + len(QUICK.null_moge_seeds) <= 3


@pytest.mark.slow
def test_case_quick_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "case"
    assert main(["case", "moge-upcycle", "--quick", "-o", str(out), "--format", "json", "-q"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "heredity.case/1"
    pairs = {p["pair"]: p for p in doc["pairs"]}
    assert pairs["upcycled"]["verdict"] == "related" and pairs["upcycled"]["p_value"] < 1e-6
    assert pairs["independent"]["verdict"] != "related"
    assert len(doc["attn_std_null"]["values"]) == len(doc["attn_std_null"]["pairs"]) >= 3
    for p in pairs.values():
        assert -1.0 <= p["attn_std"] <= 1.0 and 0.0 < p["attn_std_null_p"] <= 1.0
        html = Path(p["report"]).read_text(encoding="utf-8")
        assert html.startswith("<!DOCTYPE html>")
        assert "heredity-json" in html
    assert json.loads((out / "case.json").read_text())["pairs"][0]["pair"] == "upcycled"
    # a second run reuses the trained models and prints the side-by-side table
    assert main(["case", "moge-upcycle", "--quick", "-o", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "attn_std null over" in text and "upcycled" in text and "independent" in text
