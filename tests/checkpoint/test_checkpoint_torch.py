"""PyTorch reader: HF bins (single, sharded, legacy pickle), nanoGPT/llama2.c dicts, weights_only refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from heredity.checkpoint import open_checkpoint
from heredity.checkpoint.torch_reader import open_torch
from heredity.errors import InputError, UnsafeCheckpointError, UnsupportedFormatError

torch = pytest.importorskip("torch")


def _state(seed: int = 0) -> dict[str, object]:
    g = torch.Generator().manual_seed(seed)
    return {f"layers.{i}.w": torch.randn(6, 4, generator=g) for i in range(3)} | {"norm": torch.ones(4)}


def test_nanogpt_dict_strips_compile_prefix_and_keeps_model_args(tmp_path: Path) -> None:
    state = _state()
    ckpt_obj = {
        "model": {f"_orig_mod.{k}": v for k, v in state.items()},
        "optimizer": {"state": {}, "param_groups": []},
        "model_args": {"n_layer": 3, "n_embd": 4},
        "iter_num": 10,
    }
    torch.save(ckpt_obj, tmp_path / "ckpt.pt")
    with open_checkpoint(tmp_path / "ckpt.pt") as ckpt:
        assert ckpt.format == "pytorch" and list(ckpt.tensors) == list(state)
        assert ckpt.config == {"model_args": {"n_layer": 3, "n_embd": 4}}
        np.testing.assert_array_equal(
            ckpt.read("layers.1.w", rows=slice(2, 4)), state["layers.1.w"][2:4].numpy()
        )


def test_bf16_and_info(tmp_path: Path) -> None:
    w = torch.randn(5, 3).to(torch.bfloat16)
    torch.save({"w": w, "step": torch.tensor(7)}, tmp_path / "pytorch_model.bin")
    with open_torch(tmp_path / "pytorch_model.bin") as ckpt:
        info = ckpt.tensors["w"]
        assert (info.dtype, info.shape, info.nbytes) == ("BF16", (5, 3), 30)
        np.testing.assert_array_equal(ckpt.read("w"), w.float().numpy())
        assert ckpt.read("step").shape == ()


def test_legacy_non_zip_pickle(tmp_path: Path) -> None:
    state = _state()
    torch.save(state, tmp_path / "old.bin", _use_new_zipfile_serialization=False)
    with open_checkpoint(tmp_path / "old.bin") as ckpt:
        np.testing.assert_array_equal(ckpt.read("layers.2.w"), state["layers.2.w"].numpy())


def test_sharded_index_and_config_beside(tmp_path: Path) -> None:
    state = _state()
    names = list(state)
    torch.save({k: state[k] for k in names[:2]}, tmp_path / "pytorch_model-00001-of-00002.bin")
    torch.save({k: state[k] for k in names[2:]}, tmp_path / "pytorch_model-00002-of-00002.bin")
    weight_map = {k: f"pytorch_model-0000{1 if i < 2 else 2}-of-00002.bin" for i, k in enumerate(names)}
    (tmp_path / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    with open_checkpoint(tmp_path) as ckpt:
        assert set(ckpt.tensors) == set(names) and ckpt.config == {"model_type": "llama"}
        assert Path(ckpt.tensors["norm"].file).name == "pytorch_model-00002-of-00002.bin"
        np.testing.assert_array_equal(ckpt.read("norm"), np.ones(4, np.float32))


def test_index_outside_folder_refused(tmp_path: Path) -> None:
    (tmp_path / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": {"a": "../x.bin"}}))
    with pytest.raises(UnsafeCheckpointError, match="outside"):
        open_checkpoint(tmp_path)


def test_not_a_state_dict(tmp_path: Path) -> None:
    torch.save([torch.ones(2)], tmp_path / "list.pt")
    with pytest.raises(UnsupportedFormatError, match=r"list\.pt.*not a state dict"):
        open_checkpoint(tmp_path / "list.pt")
    torch.save({"iter": 3}, tmp_path / "empty.pt")
    with pytest.raises(UnsupportedFormatError, match="no tensors"):
        open_checkpoint(tmp_path / "empty.pt")


def test_closed_checkpoint_refuses_reads(tmp_path: Path) -> None:
    torch.save(_state(), tmp_path / "m.pt")
    ckpt = open_torch(tmp_path / "m.pt")
    ckpt.close()
    with pytest.raises(InputError, match="closed"):
        ckpt.read("norm")


def test_reads_are_fresh_copies(tmp_path: Path) -> None:
    """float32 tensors convert without a copy in torch; read() must still hand out its own array."""
    torch.save({"w": torch.ones(3, 2)}, tmp_path / "m.pt")
    with open_torch(tmp_path / "m.pt") as ckpt:
        first = ckpt.read("w")
        first *= 5
        np.testing.assert_array_equal(ckpt.read("w"), np.ones((3, 2), np.float32))
