"""``heredity fingerprint MODEL -o FP`` and comparing what it wrote, on real checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from heredity.cli.main import main

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "realmodels"
STORIES = REAL / "stories260K.bin"
XS_PT = REAL / "llama2xs" / "ckpt.pt"
XS_BIN = REAL / "llama2xs" / "model.bin"

pytestmark = pytest.mark.skipif(not (STORIES.exists() and XS_PT.exists() and XS_BIN.exists()),
                                reason="real models missing from ../shared/realmodels")


def _fingerprint(model: Path, target: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["fingerprint", str(model), "-o", str(target)]) == 0
    return capsys.readouterr().err


def test_fingerprint_writes_json_and_side_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _fingerprint(STORIES, tmp_path / "stories", capsys)
    assert (tmp_path / "stories.json").is_file() and (tmp_path / "stories.safetensors").is_file()
    assert "wrote" in err and "48 tensor hashes" in err
    doc = json.loads((tmp_path / "stories.json").read_text())
    assert doc["schema"].startswith("heredity.fingerprint/")


def test_compare_fingerprints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fingerprint(STORIES, tmp_path / "a.json", capsys)
    _fingerprint(XS_PT, tmp_path / "b.json", capsys)
    assert main(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--format", "json", "-q"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] != "related" and doc["a"]["is_fingerprint"] and doc["b"]["is_fingerprint"]
    # a fingerprint against the same weights in another format: the hashes decide
    assert main(["compare", str(tmp_path / "b.json"), str(XS_BIN), "--fail-on", "related", "-q"]) == 3


def test_fingerprint_without_hashes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fingerprint", str(STORIES), "-o", str(tmp_path / "fp.json"), "--no-hashes", "-q"]) == 0
    assert capsys.readouterr().err == ""
    assert json.loads((tmp_path / "fp.json").read_text())["hashes"] == {}


def test_fingerprint_of_missing_model_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fingerprint", str(tmp_path / "nope.safetensors"), "-o", str(tmp_path / "fp")]) == 2
    assert capsys.readouterr().err.startswith("heredity: error:")
