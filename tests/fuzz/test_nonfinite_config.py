"""NaN or infinity where a config number belongs (config.json, torch model_args, GGUF metadata) is
treated as missing or refused, never an internal error (int(inf) crashed the layout's config reading)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from heredity.checkpoint._gguf_config import synthesise_config
from heredity.cli.main import main

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import fuzz  # noqa: E402


@pytest.mark.parametrize("text", ['NaN', 'Infinity', '-Infinity', '1e999'])
def test_config_json_non_finite_refused(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    from heredity.checkpoint.writers import save_hf_folder

    arrays, config = fuzz._tiny_llama()
    save_hf_folder(arrays, config, tmp_path / "m")
    raw = json.dumps(config).replace('"num_hidden_layers": 2', f'"num_hidden_layers": {text}')
    (tmp_path / "m" / "config.json").write_text(raw)
    assert main(["inspect", str(tmp_path / "m")]) == 2
    assert "config.json is not valid JSON" in capsys.readouterr().err


def test_torch_model_args_non_finite_ignored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    sd = {"tok_embeddings.weight": torch.zeros(32, 8), "layers.0.attention.wq.weight": torch.zeros(8, 8)}
    torch.save({"model": sd, "model_args": {"n_heads": float("inf"), "n_layers": float("nan"), "dim": 8}},
               tmp_path / "ckpt.pt")
    assert main(["inspect", str(tmp_path / "ckpt.pt"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["layers"] == 1


def test_gguf_metadata_non_finite_dropped() -> None:
    meta = {"general.architecture": "llama", "llama.block_count": float("inf"),
            "llama.attention.head_count": [float("nan"), 4.0], "llama.embedding_length": 64}
    config = synthesise_config(meta, {"token_embd.weight": (32, 64)})
    assert "num_hidden_layers" not in config and config["num_attention_heads"] == 4.0
    assert np.isfinite(config["hidden_size"])
