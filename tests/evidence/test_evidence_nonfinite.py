"""NaN/Inf weights are data, not errors: reported per tensor, left out of the statistics they would
poison, never an internal error, and they never hide lineage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from heredity.checkpoint.writers import save_hf_folder
from heredity.cli.main import main
from heredity.compare import compare
from heredity.synth import make_checkpoint

DOWN = "model.layers.1.mlp.down_proj.weight"  # read by `matching` (and its NaN by nothing else)
Q = "model.layers.0.self_attn.q_proj.weight"
NORM = "model.layers.1.input_layernorm.weight"


def _tuned(arrays: dict[str, np.ndarray], seed: int = 5, eps: float = 0.3) -> dict[str, np.ndarray]:
    """A fine-tune: every weight moved by noise of ``eps`` times its spread (no tensor stays identical)."""
    rng = np.random.default_rng(seed)
    return {k: (v + eps * v.std() * rng.standard_normal(v.shape)).astype(np.float32) for k, v in arrays.items()}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("nonfinite")
    base = make_checkpoint("llama", layers=4, hidden=64, intermediate=128, seed=3)
    arrays, config = dict(base.arrays), base.config
    tuned = _tuned(arrays)
    variants = {"base": arrays, "tuned": tuned, "other": dict(make_checkpoint("llama", layers=4, hidden=64,
                                                                               intermediate=128, seed=4).arrays)}
    one_nan = dict(tuned)
    one_nan[DOWN] = tuned[DOWN].copy()
    one_nan[DOWN][3, 5] = np.nan
    variants["one_nan"] = one_nan
    inf_q = dict(tuned)
    inf_q[Q] = np.full_like(tuned[Q], np.inf)
    variants["inf_q"] = inf_q
    nan_norm = dict(tuned)
    nan_norm[NORM] = tuned[NORM].copy()
    nan_norm[NORM][0] = np.nan
    variants["nan_norm"] = nan_norm
    variants["all_nan"] = {k: np.full_like(v, np.nan) for k, v in arrays.items()}
    return {k: save_hf_folder(v, config, root / k) for k, v in variants.items()}


@pytest.mark.parametrize("variant,tensor,count", [("one_nan", DOWN, 1), ("inf_q", Q, 64 * 64), ("nan_norm", NORM, 1)])
def test_one_bad_tensor_never_hides_lineage(models: dict[str, Path], variant: str, tensor: str, count: int) -> None:
    assert compare(models["base"], models[variant]).verdict.label == "related"  # the adaptive plan
    c = compare(models["base"], models[variant], thorough=True)  # every test reads, so every NaN is seen
    assert c.verdict.label == "related", c.verdict.reason
    assert c.nonfinite == {"b": {tensor: count}}
    assert "NaN/Inf" in c.verdict.reason
    # and the clean pair is unaffected
    assert compare(models["base"], models["tuned"]).nonfinite == {}


def test_independent_stays_independent_with_a_nan(models: dict[str, Path]) -> None:
    c = compare(models["other"], models["one_nan"])
    assert c.verdict.label == "independent", c.verdict.reason


def test_nothing_usable_left_is_inconclusive_with_the_reason(models: dict[str, Path]) -> None:
    for a, b in (("base", "all_nan"), ("all_nan", "all_nan")):
        c = compare(models[a], models[b])
        assert c.verdict.label == "inconclusive"
        assert "NaN/Inf values in" in c.verdict.reason and sum(c.nonfinite["b"].values()) > 0


def test_cli_reports_per_tensor_and_exits_0(models: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(models["base"]), str(models["one_nan"]), "--format", "json", "--thorough"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "related" and doc["nonfinite"] == {"b": {DOWN: 1}}
    assert main(["compare", str(models["base"]), str(models["inf_q"]), "--thorough"]) == 0
    out = capsys.readouterr().out
    assert f"B: tensor '{Q}' has 4,096 NaN/Inf values" in out


def test_fingerprint_of_a_nan_model_still_compares(models: dict[str, Path], tmp_path: Path) -> None:
    from heredity.fingerprint import extract
    from heredity.layouts import load_model

    fp = extract(load_model(models["nan_norm"]))
    assert all(np.isfinite(v).all() for v in fp.vectors.values())
    assert all(np.isfinite(s) for per in fp.std.values() for s in per.values())
    assert compare(models["base"], fp).verdict.label == "related"


def test_inspect_scan_reports_per_tensor(models: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(models["one_nan"]), "--format", "json", "--scan"]) == 0
    assert json.loads(capsys.readouterr().out)["nonfinite"] == {DOWN: 1}
    assert main(["inspect", str(models["base"]), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["nonfinite"] is None  # headers only: not scanned
    assert main(["inspect", str(models["inf_q"]), "--scan"]) == 0
    assert f"tensor '{Q}' has 4,096 non-finite values" in capsys.readouterr().out
