"""The reader records: one list decides sniffing, suffixes and folder entries; a path is probed once."""

from __future__ import annotations

import builtins
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import heredity.checkpoint.open as opener
from heredity.checkpoint import MemoryCheckpoint, open_checkpoint
from heredity.checkpoint.llama2c_reader import expected_size, parse_header
from heredity.checkpoint.open import READERS, Probe, Reader, probe, sniff
from heredity.checkpoint.writers import save_safetensors

ARRAYS = {"a.weight": np.arange(6, dtype=np.float32).reshape(2, 3)}


def _count_opens(monkeypatch: pytest.MonkeyPatch, target: Path) -> list[str]:
    """Record every builtin ``open`` of ``target`` (by any module) while the test runs."""
    seen: list[str] = []
    real = builtins.open

    def counting(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str | Path) and Path(file) == target:
            seen.append(str(file))
        return real(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting)
    return seen


def test_names_are_unique_and_every_suffix_is_a_checkpoint_suffix() -> None:
    names = [r.name for r in READERS]
    assert len(names) == len(set(names))
    assert set(opener._SINGLE_SUFFIXES) == {".safetensors", ".gguf", ".onnx", ".bin", ".pt", ".pth"}
    entries = [e for r in READERS for e in r.folder_entries]
    assert entries == [
        "model.safetensors.index.json", "model.safetensors", "pytorch_model.bin.index.json",
        "pytorch_model.bin", "model.onnx",
    ]  # fmt: skip


def test_safetensors_file_is_opened_once_before_its_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_safetensors(ARRAYS, tmp_path / "weights.bin")  # suffix says nothing: content decides
    seen = _count_opens(monkeypatch, Path(path))
    with open_checkpoint(path) as ckpt:
        assert ckpt.format == "safetensors"
    assert len(seen) == 2  # the probe, then the reader's header read


def test_llama2c_sniff_needs_no_second_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    header = struct.pack("<7i", 2, 2, 1, 1, 1, 1, 1)  # dim 2, hidden 2, 1 layer, 1 head, vocab 1, seq 1
    parsed = parse_header(header)
    assert not isinstance(parsed, str)
    path = tmp_path / "model.bin"
    path.write_bytes(header + bytes(expected_size(parsed) - len(header)))
    seen = _count_opens(monkeypatch, path)
    assert opener._choose(probe(path)) is next(r for r in READERS if r.name == "llama2c")
    assert len(seen) == 1


def test_sniff_names_the_format(tmp_path: Path) -> None:
    (tmp_path / "g").write_bytes(b"GGUF" + bytes(28))
    (tmp_path / "z").write_bytes(b"PK\x03\x04" + bytes(28))
    (tmp_path / "t").write_bytes(b"just text, no model")
    assert [sniff(tmp_path / n) for n in "gzt"] == ["gguf", "torch", None]


def test_a_new_reader_is_one_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[Path] = []

    def open_toy(path: Path) -> MemoryCheckpoint:
        opened.append(path)
        return MemoryCheckpoint({}, format="toy")

    def is_toy(p: Probe) -> bool:
        return p.head.startswith(b"TOY!")

    toy = Reader("toy", is_toy, (".toy",), open_toy, folder_entries=("model.toy",))
    monkeypatch.setattr(opener, "READERS", (*READERS, toy))
    monkeypatch.setattr(opener, "_SINGLE_SUFFIXES", (*opener._SINGLE_SUFFIXES, ".toy"))
    (tmp_path / "x.dat").write_bytes(b"TOY!" + bytes(8))  # by content
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "model.toy").write_bytes(b"no magic")  # by folder entry and suffix
    assert open_checkpoint(tmp_path / "x.dat").format == "toy"
    assert open_checkpoint(tmp_path / "f").format == "toy"
    assert opened == [tmp_path / "x.dat", tmp_path / "f" / "model.toy"]
