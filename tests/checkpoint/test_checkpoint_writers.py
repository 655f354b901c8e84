"""Writers: round trips through our readers and through the official safetensors / torch loaders."""

from __future__ import annotations

import json
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
import safetensors.numpy

from heredity.checkpoint import open_checkpoint
from heredity.checkpoint.writers import save_hf_folder, save_pytorch_bin, save_safetensors


def _arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {f"layers.{i}.w": rng.standard_normal((40, 24)).astype(np.float32) for i in range(4)}
    out["norm"] = rng.standard_normal(24).astype(np.float32)
    out["ids"] = np.arange(6, dtype=np.int64).reshape(2, 3)
    return out


@pytest.mark.parametrize(
    ("dtype", "ref"), [("F32", np.float32), ("F16", np.float16), ("BF16", ml_dtypes.bfloat16)]
)
def test_safetensors_round_trip_converts_floats_only(tmp_path: Path, dtype: str, ref: type) -> None:
    arrays = _arrays()
    path = save_safetensors(arrays, tmp_path / "m.safetensors", metadata={"k": "v"}, dtype=dtype)
    with open_checkpoint(path) as ckpt:
        assert ckpt.format == "safetensors"
        assert ckpt.tensors["layers.0.w"].dtype == dtype
        assert ckpt.tensors["ids"].dtype == "I64"
        want = arrays["layers.2.w"].astype(ref).astype(np.float32)
        np.testing.assert_array_equal(ckpt.read("layers.2.w"), want)
        np.testing.assert_array_equal(ckpt.read("ids"), arrays["ids"].astype(np.float32))


def test_official_loader_reads_our_files(tmp_path: Path) -> None:
    arrays = _arrays()
    path = save_safetensors(arrays, tmp_path / "m.safetensors", dtype="F16")
    loaded = safetensors.numpy.load_file(str(path))
    assert loaded.keys() == arrays.keys()
    np.testing.assert_array_equal(loaded["norm"], arrays["norm"].astype(np.float16))


def test_keeps_bf16_input_dtype(tmp_path: Path) -> None:
    a = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4).astype(ml_dtypes.bfloat16)
    with open_checkpoint(save_safetensors({"a": a}, tmp_path / "b.safetensors")) as ckpt:
        assert ckpt.tensors["a"].dtype == "BF16"
        np.testing.assert_array_equal(ckpt.read("a"), a.astype(np.float32))


def test_hf_folder_single_file(tmp_path: Path) -> None:
    folder = save_hf_folder(_arrays(), {"model_type": "llama"}, tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    with open_checkpoint(folder) as ckpt:
        assert ckpt.config == {"model_type": "llama"}


def test_hf_folder_shards_and_index(tmp_path: Path) -> None:
    arrays = _arrays()
    folder = save_hf_folder(
        arrays, {"model_type": "llama"}, tmp_path / "m", max_shard_bytes=3000, dtype="BF16"
    )
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    shards = sorted(p.name for p in folder.glob("model-*.safetensors"))
    assert len(shards) == 4 and shards[0] == "model-00001-of-00004.safetensors"
    assert set(index["weight_map"]) == set(arrays) and set(index["weight_map"].values()) == set(shards)
    want_total = sum(a.size * (2 if a.dtype == np.float32 else a.itemsize) for a in arrays.values())
    assert index["metadata"]["total_size"] == want_total
    with open_checkpoint(folder) as ckpt:
        assert set(ckpt.tensors) == set(arrays)
        for name, fname in index["weight_map"].items():
            assert Path(ckpt.tensors[name].file).name == fname
        got = ckpt.read("layers.3.w")
    np.testing.assert_array_equal(got, arrays["layers.3.w"].astype(ml_dtypes.bfloat16).astype(np.float32))


def test_unwritable_dtype_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="F8"):
        save_safetensors({"a": np.ones(2, np.float32)}, tmp_path / "x.safetensors", dtype="F8")


def test_pytorch_bin_round_trip(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    arrays = _arrays()
    arrays["bf"] = arrays["norm"].astype(ml_dtypes.bfloat16)
    path = save_pytorch_bin(arrays, tmp_path / "pytorch_model.bin")
    state = torch.load(path, weights_only=True)
    assert state["bf"].dtype == torch.bfloat16
    with open_checkpoint(path) as ckpt:
        assert ckpt.format == "pytorch" and ckpt.tensors["bf"].dtype == "BF16"
        for name, a in arrays.items():
            np.testing.assert_array_equal(ckpt.read(name), a.astype(np.float32))
