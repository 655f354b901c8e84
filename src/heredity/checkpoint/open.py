"""``open_checkpoint``: pick the reader for a path or hub id.

Why sniffing: names lie.  A GGUF renamed ``.bin`` is still GGUF, a llama2.c export and a PyTorch
pickle share the ``.bin`` suffix.  So a file is recognised by its first bytes (GGUF magic, zip
header, pickle opcode, a safetensors length + ``{``), then by its extension, then by llama2.c's
header-and-size arithmetic.  Readers for optional formats are imported only when needed.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Callable
from pathlib import Path

from heredity.checkpoint._paths import check_source
from heredity.checkpoint.base import Checkpoint
from heredity.errors import NotFoundError, UnsupportedFormatError, safe_name

SUPPORTED = (
    "a folder (config.json + model.safetensors or shards, pytorch_model.bin, *.gguf, model.onnx), "
    ".safetensors, .gguf, .bin/.pt/.pth (PyTorch or llama2.c export), .onnx, or a hub id org/name[@rev]"
)
FIX = f"heredity reads {SUPPORTED}"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*(@[\w./-]+)?$")
_SNIFF_BYTES = 16


def open_checkpoint(source: str | os.PathLike[str]) -> Checkpoint:
    """Open a checkpoint lazily: a folder, a file, or a Hugging Face hub id ``org/name[@rev]``."""
    text = os.fspath(source)
    check_source(text)  # special files, link loops, truncated llama2.c: refused before any reader
    path = Path(text)
    if not path.exists():
        if _looks_like_hub_id(text):
            return _open_hub(text)
        raise NotFoundError(
            "no such file or folder", path=text, fix="check the path, or give a hub id org/name"
        )
    if path.is_dir():
        return _open_folder(path)
    return _open_file(path)


def _looks_like_hub_id(text: str) -> bool:
    """``org/name[@rev]``, unless it reads as a mistyped local path: a file suffix on the name, or an
    ``org`` that is a local folder."""
    if not _HUB_ID.match(text):
        return False
    org, name = text.split("@")[0].split("/")
    return not name.lower().endswith(_SINGLE_SUFFIXES) and not Path(org).is_dir()


def _open_hub(text: str) -> Checkpoint:
    from heredity.checkpoint.hub_reader import open_hub

    repo_id, _, revision = text.partition("@")
    return open_hub(repo_id, revision or None)


# -- files ---------------------------------------------------------------------------------------


def sniff(path: Path) -> str | None:
    """The format a file's contents announce (``gguf``, ``torch``, ``safetensors``, ``llama2c``), or
    ``None`` when the bytes alone do not tell."""
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    if head.startswith(b"GGUF"):
        return "gguf"
    if head.startswith(b"PK\x03\x04"):
        return "torch"  # torch.save zip format
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "torch"  # legacy torch.save: a bare pickle
    if _looks_like_safetensors(head, path.stat().st_size):
        return "safetensors"
    from heredity.checkpoint.llama2c_reader import looks_like_llama2c

    return "llama2c" if looks_like_llama2c(path) else None


def _looks_like_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 9:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 2 <= n <= size - 8 and head[8:9] == b"{"


_BY_EXTENSION = {".safetensors": "safetensors", ".gguf": "gguf", ".onnx": "onnx"}


def _open_file(path: Path) -> Checkpoint:
    if path.name.endswith(".index.json"):  # a shard index named directly
        return _READERS["safetensors" if path.name.endswith(".safetensors.index.json") else "torch"](path)
    kind = sniff(path) or _BY_EXTENSION.get(path.suffix.lower())
    if kind is None:
        raise UnsupportedFormatError("not a checkpoint format heredity recognises", path=path, fix=FIX)
    return _READERS[kind](path)


def _read_safetensors(path: Path) -> Checkpoint:
    from heredity.checkpoint.safetensors_reader import open_safetensors

    return open_safetensors(path)


def _read_gguf(path: Path) -> Checkpoint:
    from heredity.checkpoint.gguf_reader import open_gguf

    return open_gguf(path)


def _read_onnx(path: Path) -> Checkpoint:
    from heredity.checkpoint.onnx_reader import open_onnx

    return open_onnx(path)


def _read_torch(path: Path) -> Checkpoint:
    from heredity.checkpoint.torch_reader import open_torch

    return open_torch(path)


def _read_llama2c(path: Path) -> Checkpoint:
    from heredity.checkpoint.llama2c_reader import open_llama2c

    return open_llama2c(path)


_READERS: dict[str, Callable[[Path], Checkpoint]] = {
    "safetensors": _read_safetensors,
    "gguf": _read_gguf,
    "onnx": _read_onnx,
    "torch": _read_torch,
    "llama2c": _read_llama2c,
}

# -- folders -------------------------------------------------------------------------------------

# a folder's canonical entry files, in order of preference
_FOLDER_ENTRIES = (
    "model.safetensors.index.json",
    "model.safetensors",
    "pytorch_model.bin.index.json",
    "pytorch_model.bin",
    "model.onnx",
)
_SINGLE_SUFFIXES = (".safetensors", ".gguf", ".onnx", ".bin", ".pt", ".pth")


def _open_folder(folder: Path) -> Checkpoint:
    """The folder's canonical entry file, else its only checkpoint-like file; refuse to guess between several."""
    for name in _FOLDER_ENTRIES:
        if (folder / name).is_file():
            return _open_file(folder / name)
    candidates = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _SINGLE_SUFFIXES)
    if len(candidates) == 1:
        return _open_file(candidates[0])
    if not candidates:
        raise UnsupportedFormatError("folder holds no checkpoint file", path=folder, fix=FIX)
    names = ", ".join(safe_name(p.name, 60) for p in candidates[:6])
    raise UnsupportedFormatError(
        f"folder holds several checkpoint files ({names})", path=folder, fix="pass one of them as the path"
    )
