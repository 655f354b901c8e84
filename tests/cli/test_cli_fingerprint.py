"""``heredity fingerprint MODEL -o FP`` and comparing what it wrote, on real checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from heredity.cli.main import main
from heredity.fingerprint import is_fingerprint_file, load

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "realmodels"
STORIES = REAL / "stories260K.bin"
XS_PT = REAL / "llama2xs" / "ckpt.pt"
XS_BIN = REAL / "llama2xs" / "model.bin"

pytestmark = pytest.mark.skipif(not (STORIES.exists() and XS_PT.exists() and XS_BIN.exists()),
                                reason="real models missing from ../shared/realmodels")


def _fingerprint(model: Path, target: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["fingerprint", str(model), "-o", str(target)]) == 0
    return capsys.readouterr().err


def test_fingerprint_writes_one_file_under_the_given_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _fingerprint(STORIES, tmp_path / "stories.fp", capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stories.fp"]
    assert "wrote" in err and "48 tensor hashes" in err
    assert is_fingerprint_file(tmp_path / "stories.fp")


def test_readme_workflow(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """As the README writes it: fingerprint MODEL -o model.fp, then compare / inspect / matrix on it."""
    monkeypatch.chdir(tmp_path)
    _fingerprint(STORIES, Path("model.fp"), capsys)
    _fingerprint(XS_PT, Path("other.fp"), capsys)
    assert main(["compare", "model.fp", "other.fp", "--format", "json", "-q"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["a"]["is_fingerprint"] and doc["b"]["is_fingerprint"] and doc["verdict"] != "related"
    assert main(["inspect", "model.fp", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["format"] == "fingerprint" and shown["layers"] == 5 and shown["roles"]["q"] == 5
    assert main(["matrix", "model.fp", "other.fp", str(XS_BIN), "--format", "json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)


def test_fingerprint_is_not_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fingerprint(STORIES, tmp_path / "a.fp", capsys)
    assert main(["fingerprint", str(tmp_path / "a.fp"), "-o", str(tmp_path / "b.fp")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a heredity fingerprint, not a checkpoint" in err
    assert not (tmp_path / "b.fp").exists()


def test_half_of_an_old_pair_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from heredity.checkpoint.writers import save_safetensors
    from heredity.fingerprint import extract
    from heredity.fingerprint.io import document
    from heredity.layouts import load_model

    fp = extract(load_model(STORIES))
    save_safetensors({k: v for k, v in fp.vectors.items()}, tmp_path / "old.safetensors")
    (tmp_path / "old.json").write_text(json.dumps(document(fp) | {"arrays": "old.safetensors"}))
    assert main(["compare", str(tmp_path / "old.safetensors"), str(STORIES), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "array half of the old-style fingerprint pair old.json" in err
    assert main(["compare", str(tmp_path / "old.json"), str(STORIES), "--fail-on", "related", "-q"]) == 3
    (tmp_path / "old.safetensors").unlink()
    assert main(["compare", str(tmp_path / "old.json"), str(STORIES), "-q"]) == 2
    assert "array half old.safetensors of this old-style fingerprint pair is missing" in capsys.readouterr().err


def test_compare_fingerprints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fingerprint(STORIES, tmp_path / "a.fp", capsys)
    _fingerprint(XS_PT, tmp_path / "b.fp", capsys)
    assert main(["compare", str(tmp_path / "a.fp"), str(tmp_path / "b.fp"), "--format", "json", "-q"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] != "related" and doc["a"]["is_fingerprint"] and doc["b"]["is_fingerprint"]
    # a fingerprint against the same weights in another format: the hashes decide
    assert main(["compare", str(tmp_path / "b.fp"), str(XS_BIN), "--fail-on", "related", "-q"]) == 3


def test_fingerprint_without_hashes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fingerprint", str(STORIES), "-o", str(tmp_path / "fp.fp"), "--no-hashes", "-q"]) == 0
    assert capsys.readouterr().err == ""
    assert load(tmp_path / "fp.fp").hashes == {}


def test_fingerprint_of_missing_model_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fingerprint", str(tmp_path / "nope.safetensors"), "-o", str(tmp_path / "fp")]) == 2
    assert capsys.readouterr().err.startswith("heredity: error:")


def test_unwritable_output_refused_before_reading(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fingerprint", str(tmp_path / "nope.safetensors"), "-o", str(tmp_path / "no" / "dir" / "x.fp")]) == 2
    err = capsys.readouterr().err  # the output is checked first: the missing model is not reached
    assert "x.fp: cannot write: folder" in err and "nope.safetensors" not in err
