"""Real checkpoints trained by others: the layouts must recognise them exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from heredity.inspect import inspect_model
from heredity.layouts import Role, load_model

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "realmodels"
LLAMA_ROLES = {"embed": 1, "final_norm": 1, "lm_head": 1, "attn_norm": 5, "mlp_norm": 5, "q": 5, "k": 5, "v": 5,
               "o": 5, "mlp_gate": 5, "mlp_up": 5, "mlp_down": 5}  # fmt: skip


def _shared(rel: str) -> Path:
    path = SHARED / rel
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


@pytest.mark.parametrize(
    ("rel", "ffn", "fmt"),
    [
        ("stories260K.bin", 172, "llama2c"),
        ("llama2xs/ckpt.pt", 192, "pytorch"),
        ("llama2xs/model.bin", 192, "llama2c"),
    ],
)
def test_llama2c_models(rel: str, ffn: int, fmt: str) -> None:
    r = inspect_model(load_model(_shared(rel)))
    assert (r.family, r.format, r.layers, r.hidden_size, r.heads, r.kv_heads) == ("llama", fmt, 5, 64, 8, 4)
    assert (r.intermediate_size, r.vocab_size, r.unknown_tensors, r.inferred) == (ffn, 512, (), False)
    assert r.roles == LLAMA_ROLES
    per_layer = 2 * 64 * 64 + 2 * 32 * 64 + 3 * ffn * 64 + 2 * 64
    assert r.params == 512 * 64 + 5 * per_layer + 64  # tied classifier counted once


def test_stories_and_llama2xs_share_shapes_but_not_ffn() -> None:
    a = load_model(_shared("stories260K.bin"))
    b = load_model(_shared("llama2xs/ckpt.pt"))
    assert a.get(Role.Q, 2).shape == b.get(Role.Q, 2).shape == (64, 64)
    assert a.get(Role.MLP_UP, 0).shape == (172, 64) and b.get(Role.MLP_UP, 0).shape == (192, 64)


def _packaged(name: str) -> Path:
    from heredity.testing.realmodels import find_or_fetch, skip_reason

    path = find_or_fetch(name)
    if path is None:
        pytest.skip(skip_reason(name))
    return path


@pytest.mark.slow
def test_smollm2_gguf() -> None:
    model = load_model(_packaged("smollm2"))
    r = inspect_model(model)
    assert (r.family, r.format, r.layers, r.hidden_size, r.heads, r.kv_heads, r.intermediate_size) == (
        "llama",
        "gguf",
        30,
        576,
        9,
        3,
        1536,
    )
    assert (r.vocab_size, r.unknown_tensors) == (49152, ())
    assert 134_000_000 < r.params < 135_000_000  # SmolLM2-135M, tied embeddings
    assert model.ref(Role.Q, 0).unpermute_heads == 9 and model.ref(Role.K, 0).unpermute_heads == 3
    assert model.get(Role.Q, 0).shape == (576, 576)


@pytest.mark.slow
def test_gemma3_gguf() -> None:
    model = load_model(_packaged("gemma3-270m"))
    r = inspect_model(model)
    assert (r.family, r.format, r.layers, r.hidden_size, r.heads, r.kv_heads, r.intermediate_size) == (
        "gemma3",
        "gguf",
        18,
        640,
        4,
        1,
        2048,
    )
    assert r.unknown_tensors == () and r.roles["q_norm"] == 18 and r.roles["post_mlp_norm"] == 18
    assert model.ref(Role.Q, 0).unpermute_heads is None  # llama.cpp permutes llama-arch q/k only
    assert not model.ref(Role.ATTN_NORM, 0).plus_one  # gemma GGUF norms are stored as 1 + w already


@pytest.mark.slow
def test_all_minilm_bert() -> None:
    r = inspect_model(load_model(_packaged("all-minilm-l6-v2")))
    assert (r.family, r.layers, r.hidden_size, r.heads, r.intermediate_size, r.vocab_size) == (
        "bert",
        6,
        384,
        12,
        1536,
        30522,
    )
    assert r.unknown_tensors == () and r.roles["post_mlp_norm_bias"] == 6 and r.roles["pooler"] == 1
    assert r.params == 22_713_216


def _rewrapped(src: Path, dst: Path, prefix: str) -> None:
    """``src`` with every tensor renamed ``prefix + name``: a new header over the same data bytes."""
    import json
    import shutil
    import struct

    with open(src, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        renamed = {(k if k == "__metadata__" else prefix + k): v for k, v in header.items()}
        raw = json.dumps(renamed).encode()
        dst.parent.mkdir(parents=True, exist_ok=True)
        with open(dst, "wb") as out:
            out.write(struct.pack("<Q", len(raw)) + raw)
            shutil.copyfileobj(f, out)


@pytest.mark.slow
@pytest.mark.parametrize("prefix", ["0.auto_model.", "model.0.auto_model."])
def test_all_minilm_under_sentence_transformers_prefixes(tmp_path: Path, prefix: str) -> None:
    """The real all-MiniLM-L6-v2 weights named as a SentenceTransformer state dict (and its ONNX
    export) map exactly as the bare model does."""
    src = _packaged("all-minilm-l6-v2")
    bare = load_model(src)
    _rewrapped(src / "model.safetensors", tmp_path / "st" / "model.safetensors", prefix)
    model = load_model(tmp_path / "st")
    r = inspect_model(model)
    assert (r.family, r.prefix_stripped, r.unknown_tensors, r.components) == ("bert", prefix, (), ())
    assert r.roles == inspect_model(bare).roles and r.params == 22_713_216
    assert np.array_equal(model.get(Role.Q, 3), bare.get(Role.Q, 3))
