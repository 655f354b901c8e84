"""The three real llama2.c-family files in shared/realmodels: checksums, shapes, two formats agree."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from heredity.checkpoint import open_checkpoint

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "realmodels"
SHA256 = {
    "stories260K.bin": "9414d5a285453a7eab631713d171753232c978f6f97654211469aff8be93c8d6",
    "llama2xs/ckpt.pt": "6befe39681a189046ffe44e91e9ec1a10e1a3bf9d40a1987f0962ea3c3e0419e",
    "llama2xs/model.bin": "b1e0376c2456e18f294ffe062a2b44e5cb2e207c8aa53538209d2689122ea641",
}
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="shared/realmodels is not beside the project")


@pytest.mark.parametrize("name", sorted(SHA256))
def test_checksums_match_readme(name: str) -> None:
    assert hashlib.sha256((REAL / name).read_bytes()).hexdigest() == SHA256[name]


@pytest.mark.parametrize(
    ("name", "hidden"), [("stories260K.bin", 172), ("llama2xs/model.bin", 192), ("llama2xs/ckpt.pt", 192)]
)
def test_shapes(name: str, hidden: int) -> None:
    with open_checkpoint(REAL / name) as ckpt:
        shapes = {k: v.shape for k, v in ckpt.tensors.items()}
        assert len(shapes) == 2 + 9 * 5 + 1  # embed, norm, output + 9 per layer x 5
        assert shapes["tok_embeddings.weight"] == shapes["output.weight"] == (512, 64)
        assert shapes["layers.4.attention.wq.weight"] == (64, 64)
        assert shapes["layers.0.attention.wk.weight"] == (32, 64)  # 4 kv heads of 8 dims
        assert shapes["layers.2.feed_forward.w2.weight"] == (64, hidden)
        assert ckpt.config["intermediate_size"] == hidden and ckpt.config["tie_word_embeddings"] is True
        emb = ckpt.read("tok_embeddings.weight")
        assert np.isfinite(emb).all() and emb.std() > 0.01
        np.testing.assert_array_equal(ckpt.read("output.weight"), emb)


def test_ckpt_pt_and_model_bin_hold_identical_arrays() -> None:
    with (
        open_checkpoint(REAL / "llama2xs/ckpt.pt") as pt,
        open_checkpoint(REAL / "llama2xs/model.bin") as bin_,
    ):
        assert set(pt.tensors) == set(bin_.tensors)
        for name in pt.tensors:
            np.testing.assert_array_equal(pt.read(name), bin_.read(name), err_msg=name)
        shared = {
            "model_type",
            "hidden_size",
            "num_attention_heads",
            "num_key_value_heads",
            "intermediate_size",
            "num_hidden_layers",
            "vocab_size",
            "max_position_embeddings",
            "tie_word_embeddings",
        }
        assert {k: pt.config[k] for k in shared} == bin_.config


def test_independent_models_differ() -> None:
    with open_checkpoint(REAL / "stories260K.bin") as a, open_checkpoint(REAL / "llama2xs/model.bin") as b:
        assert not np.array_equal(
            a.read("layers.0.attention.wq.weight"), b.read("layers.0.attention.wq.weight")
        )
