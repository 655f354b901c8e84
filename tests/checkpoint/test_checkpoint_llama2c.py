"""llama2.c legacy exports, written here in llama2.c's own array order, read back by name."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from heredity.checkpoint import open_checkpoint
from heredity.checkpoint.llama2c_reader import looks_like_llama2c, open_llama2c
from heredity.errors import CorruptCheckpointError

DIM, HIDDEN, LAYERS, HEADS, KV, VOCAB, SEQ = 16, 40, 2, 4, 2, 32, 8
KV_DIM = DIM // HEADS * KV


def _export(path: Path, shared: bool, seed: int = 0) -> dict[str, np.ndarray]:
    """Write a llama2.c v0 export of random weights; return them by PyTorch name."""
    rng = np.random.default_rng(seed)

    def w(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    per_layer = {
        "attention_norm": (DIM,), "attention.wq": (DIM, DIM), "attention.wk": (KV_DIM, DIM),
        "attention.wv": (KV_DIM, DIM), "attention.wo": (DIM, DIM), "ffn_norm": (DIM,),
        "feed_forward.w1": (HIDDEN, DIM), "feed_forward.w2": (DIM, HIDDEN), "feed_forward.w3": (HIDDEN, DIM),
    }  # fmt: skip
    weights = {"tok_embeddings.weight": w(VOCAB, DIM)}
    for part, shape in per_layer.items():
        weights.update({f"layers.{i}.{part}.weight": w(*shape) for i in range(LAYERS)})
    weights["norm.weight"] = w(DIM)
    rope = w(2, SEQ, DIM // HEADS // 2)
    weights["output.weight"] = weights["tok_embeddings.weight"] if shared else w(VOCAB, DIM)
    header = struct.pack("<7i", DIM, HIDDEN, LAYERS, HEADS, KV, VOCAB if shared else -VOCAB, SEQ)
    body = [a.tobytes() for n, a in weights.items() if n != "output.weight"] + [rope.tobytes()]
    if not shared:
        body.append(weights["output.weight"].tobytes())
    path.write_bytes(header + b"".join(body))
    return weights


@pytest.mark.parametrize("shared", [True, False])
def test_round_trip_by_name(tmp_path: Path, shared: bool) -> None:
    weights = _export(tmp_path / "model.bin", shared)
    with open_checkpoint(tmp_path / "model.bin") as ckpt:
        assert ckpt.format == "llama2c"
        assert set(ckpt.tensors) == set(weights)
        for name, a in weights.items():
            assert ckpt.tensors[name].shape == a.shape
            np.testing.assert_array_equal(ckpt.read(name), a)
        np.testing.assert_array_equal(
            ckpt.read("layers.1.attention.wk.weight", rows=slice(2, 5)),
            weights["layers.1.attention.wk.weight"][2:5],
        )
        assert ckpt.config == {
            "model_type": "llama2c", "hidden_size": DIM, "num_attention_heads": HEADS, "num_key_value_heads": KV,
            "intermediate_size": HIDDEN, "num_hidden_layers": LAYERS, "vocab_size": VOCAB,
            "max_position_embeddings": SEQ, "tie_word_embeddings": shared,
        }  # fmt: skip


def test_one_byte_more_or_less_is_not_llama2c(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    _export(path, shared=True)
    assert looks_like_llama2c(path)
    full = path.read_bytes()
    for broken in (full + b"\x00", full[:-4]):
        path.write_bytes(broken)
        assert not looks_like_llama2c(path)
        with pytest.raises(CorruptCheckpointError, match=r"model\.bin.*header implies"):
            open_llama2c(path)


def test_tiny_file_is_not_llama2c(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"\x01\x02")
    assert not looks_like_llama2c(tmp_path / "x.bin")
