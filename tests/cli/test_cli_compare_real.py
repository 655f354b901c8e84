"""``heredity compare`` / ``report`` / ``matrix`` end to end on real checkpoints trained by other people.

stories260K and llama2xs were trained independently; llama2xs/ckpt.pt and llama2xs/model.bin hold the
same weights in two formats (see ../shared/realmodels/README.md).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from heredity.cli.main import main
from heredity.report import schema

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "realmodels"
STORIES = REAL / "stories260K.bin"
XS_PT = REAL / "llama2xs" / "ckpt.pt"
XS_BIN = REAL / "llama2xs" / "model.bin"

pytestmark = pytest.mark.skipif(not (STORIES.exists() and XS_PT.exists() and XS_BIN.exists()),
                                reason="real models missing from ../shared/realmodels")


def _json(capsys: pytest.CaptureFixture[str], *args: Path | str) -> dict[str, object]:
    assert main(["compare", *map(str, args), "--format", "json", "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    doc: dict[str, object] = json.loads(captured.out)
    assert schema.validate(doc) == []
    return doc


def test_independent_real_models_are_not_called_related(capsys: pytest.CaptureFixture[str]) -> None:
    doc = _json(capsys, STORIES, XS_BIN)
    assert doc["verdict"] != "related"
    assert main(["compare", str(STORIES), str(XS_BIN), "--fail-on", "related", "-q", "--format", "json"]) == 0


def test_same_weights_in_two_formats_are_related(capsys: pytest.CaptureFixture[str]) -> None:
    doc = _json(capsys, XS_PT, XS_BIN)
    assert doc["verdict"] == "related" and doc["a"]["format"] != doc["b"]["format"]  # type: ignore[index]
    assert main(["compare", str(XS_PT), str(XS_BIN), "--fail-on", "related", "-q"]) == 3


def test_report_on_real_models(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    assert main(["report", str(XS_PT), str(XS_BIN), "-o", str(target), "-q"]) == 0
    page = target.read_text(encoding="utf-8")
    assert "RELATED</span>" in page and page.count("<svg") >= 5
    twin = re.search(r'<script type="application/json" id="heredity-json">(.*?)</script>', page, re.S)
    assert twin is not None and schema.validate(json.loads(twin.group(1))) == []


def test_matrix_on_real_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", str(STORIES), str(XS_PT), str(XS_BIN), "--format", "json", "-q"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tree"]["roots"] == [str(STORIES), str(XS_PT)]
    assert [(e["parent"], e["child"]) for e in doc["tree"]["edges"]] == [(str(XS_PT), str(XS_BIN))]
