"""One state dict written in every format inspects the same (apart from format, dtypes and source)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from heredity.inspect import inspect_model
from heredity.layouts import Role, load_model
from heredity.synth import make_checkpoint

SAME_EVERYWHERE = ("layers", "hidden_size", "heads", "kv_heads", "intermediate_size", "experts", "vocab_size",
                   "params", "roles", "unknown_tensors", "inferred")  # fmt: skip


def _written(kind: str, folder: Path, family: str = "llama") -> Path:
    from heredity.checkpoint import writers

    ck = make_checkpoint(family, seed=4)
    if kind == "safetensors":
        return writers.save_hf_folder(ck.arrays, ck.config, folder / "st")
    if kind == "sharded":
        out = writers.save_hf_folder(ck.arrays, ck.config, folder / "sharded", max_shard_bytes=40_000)
        assert (out / "model.safetensors.index.json").exists()
        return out
    if kind == "bin":
        pytest.importorskip("torch")
        (folder / "config.json").write_text(json.dumps(ck.config))  # HF folders keep it beside the weights
        return writers.save_pytorch_bin(ck.arrays, folder / "pytorch_model.bin")
    from heredity.checkpoint.gguf_writer import save_gguf

    return save_gguf(ck.arrays, ck.config, folder / f"model-{kind}.gguf", kind.split("-")[1])


KINDS = ["safetensors", "sharded", "bin", "gguf-F32", "gguf-F16", "gguf-Q8_0"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_format_inspects_the_same(kind: str, tmp_path: Path) -> None:
    reference = inspect_model(load_model(make_checkpoint("llama", seed=4))).to_dict()
    try:
        path = _written(kind, tmp_path)
        model = load_model(path)
    except ModuleNotFoundError as exc:  # a reader another helper has not landed yet
        pytest.skip(f"reader not available: {exc}")
    got = inspect_model(model).to_dict()
    for key in SAME_EVERYWHERE:
        assert got[key] == reference[key], key
    assert got["family"] == "llama"  # a GGUF's family is its general.architecture
    assert got["format"] == ("gguf" if kind.startswith("gguf") else got["format"])
    if kind in ("safetensors", "gguf-F32"):  # lossless: the canonical tensors are bit-identical
        want = load_model(make_checkpoint("llama", seed=4))
        for role, layer in ((Role.Q, 1), (Role.K, 0), (Role.MLP_DOWN, 1), (Role.ATTN_NORM, 0)):
            assert np.array_equal(model.get(role, layer), want.get(role, layer)), (role, layer)
    model.checkpoint.close()


def test_lone_file_without_config_infers_widths_and_says_heads_are_guessed(tmp_path: Path) -> None:
    from heredity.checkpoint import writers

    ck = make_checkpoint("llama", seed=4)
    path = writers.save_safetensors(ck.arrays, tmp_path / "lone.safetensors")
    got = inspect_model(load_model(path))
    assert (got.family, got.layers, got.hidden_size, got.intermediate_size, got.vocab_size) == (
        "llama",
        2,
        64,
        128,
        256,
    )
    assert any("guessed head_dim" in n for n in got.notes)
