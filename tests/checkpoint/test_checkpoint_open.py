"""open_checkpoint: which reader a path, folder or hub id reaches, by content before extension."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from heredity.checkpoint import MemoryCheckpoint, open_checkpoint
from heredity.checkpoint.writers import save_hf_folder, save_pytorch_bin, save_safetensors
from heredity.errors import NotFoundError, UnsupportedFormatError

ARRAYS = {"a.weight": np.arange(12, dtype=np.float32).reshape(3, 4), "b.weight": np.ones(4, np.float32)}


def _record(monkeypatch: pytest.MonkeyPatch, module: str, func: str) -> list[tuple[Any, ...]]:
    """Replace a lazily imported reader with one that records its arguments."""
    import importlib

    calls: list[tuple[Any, ...]] = []

    def fake(*args: Any) -> MemoryCheckpoint:
        calls.append(args)
        return MemoryCheckpoint({})

    monkeypatch.setattr(importlib.import_module(module), func, fake)
    return calls


def test_missing_path_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        open_checkpoint(tmp_path / "nope.safetensors")


def test_unknown_bytes_are_unsupported_with_hint(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello, I am not a model")
    with pytest.raises(UnsupportedFormatError, match=r"notes\.txt.*safetensors, \.gguf"):
        open_checkpoint(tmp_path / "notes.txt")


def test_safetensors_renamed_bin_is_sniffed(tmp_path: Path) -> None:
    save_safetensors(ARRAYS, tmp_path / "weights.bin")
    with open_checkpoint(tmp_path / "weights.bin") as ckpt:
        assert ckpt.format == "safetensors"


def test_gguf_magic_wins_over_extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _record(monkeypatch, "heredity.checkpoint.gguf_reader", "open_gguf")
    (tmp_path / "model.bin").write_bytes(b"GGUF" + struct.pack("<I", 3) + bytes(32))
    open_checkpoint(tmp_path / "model.bin")
    assert calls == [(tmp_path / "model.bin",)]


def test_onnx_by_extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _record(monkeypatch, "heredity.checkpoint.onnx_reader", "open_onnx")
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07" + bytes(20))
    open_checkpoint(tmp_path)  # folder holding model.onnx
    assert calls == [(tmp_path / "model.onnx",)]


@pytest.mark.parametrize(
    ("text", "want"), [("org/name", ("org/name", None)), ("org/name@v1.0", ("org/name", "v1.0"))]
)
def test_hub_ids_that_are_not_paths(
    monkeypatch: pytest.MonkeyPatch, text: str, want: tuple[Any, ...]
) -> None:
    calls = _record(monkeypatch, "heredity.checkpoint.hub_reader", "open_hub")
    open_checkpoint(text)
    assert calls == [want]


def test_existing_path_shaped_like_hub_id_is_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _record(monkeypatch, "heredity.checkpoint.hub_reader", "open_hub")
    save_hf_folder(ARRAYS, {}, tmp_path / "org" / "name")
    monkeypatch.chdir(tmp_path)
    with open_checkpoint("org/name") as ckpt:
        assert ckpt.format == "safetensors"
    assert calls == []


def test_folder_prefers_index_then_single_file(tmp_path: Path) -> None:
    save_hf_folder(ARRAYS, {"model_type": "llama"}, tmp_path / "s", max_shard_bytes=16)
    with open_checkpoint(tmp_path / "s") as ckpt:
        assert len({i.file for i in ckpt.tensors.values()}) == 2
    save_hf_folder(ARRAYS, {"model_type": "llama"}, tmp_path / "one")
    with open_checkpoint(tmp_path / "one") as ckpt:
        assert ckpt.config["model_type"] == "llama" and set(ckpt.tensors) == set(ARRAYS)


def test_folder_with_pytorch_bin(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    save_pytorch_bin(ARRAYS, tmp_path / "pytorch_model.bin")
    with open_checkpoint(tmp_path) as ckpt:
        assert ckpt.format == "pytorch"
        np.testing.assert_array_equal(ckpt.read("a.weight", rows=slice(1, 3)), ARRAYS["a.weight"][1:3])


def test_folder_with_one_unnamed_checkpoint_file(tmp_path: Path) -> None:
    shutil.copy(Path(save_safetensors(ARRAYS, tmp_path / "x.tmp")), tmp_path / "weights.safetensors")
    (tmp_path / "x.tmp").unlink()
    with open_checkpoint(tmp_path) as ckpt:
        assert ckpt.format == "safetensors"


def test_ambiguous_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFormatError, match="no checkpoint file"):
        open_checkpoint(tmp_path)
    save_safetensors(ARRAYS, tmp_path / "a.safetensors")
    save_safetensors(ARRAYS, tmp_path / "b.safetensors")
    with pytest.raises(
        UnsupportedFormatError, match=r"several checkpoint files \(a\.safetensors, b\.safetensors\)"
    ):
        open_checkpoint(tmp_path)


def test_index_file_named_directly(tmp_path: Path) -> None:
    save_hf_folder(ARRAYS, {"model_type": "llama"}, tmp_path, max_shard_bytes=16)
    with open_checkpoint(tmp_path / "model.safetensors.index.json") as ckpt:
        assert ckpt.format == "safetensors" and set(ckpt.tensors) == set(ARRAYS)


@pytest.mark.parametrize("text", ["models/tiny.safetensors", "sub/missing"])
def test_mistyped_local_paths_are_not_hub_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    calls = _record(monkeypatch, "heredity.checkpoint.hub_reader", "open_hub")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotFoundError, match="no such file"):
        open_checkpoint(text)
    assert calls == []


def test_memory_checkpoint_keeps_scalar_shape_and_copies() -> None:
    import numpy as np

    from heredity.checkpoint import MemoryCheckpoint

    store = {"s": np.array(2.5, dtype=np.float32), "v": np.ones(3, dtype=np.float32)}
    ckpt = MemoryCheckpoint(store)
    assert ckpt.read("s").shape == ()
    ckpt.read("v")[0] = 7.0
    assert store["v"][0] == 1.0
