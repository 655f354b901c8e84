"""``open_checkpoint``: pick the reader for a path or hub id from one list of reader records.

Why sniffing: names lie.  A GGUF renamed ``.bin`` is still GGUF, a llama2.c export and a PyTorch
pickle share the ``.bin`` suffix.  So a file is recognised by its first bytes (GGUF magic, zip
header, pickle opcode, a safetensors length + ``{``, llama2.c's header-and-size arithmetic), then by
its extension.  The path is looked at once (one ``stat``) and the file opened once to read its first
bytes (:class:`Probe`); every sniff function works on that probe, and only the chosen reader opens
the file again to read it.  Reader modules are imported only when chosen.

Adding a reader is one module with an ``open_...(path)`` function plus one :class:`Reader` record in
:data:`READERS`.  The list's order is the order of preference: sniffs are tried in it, and a
folder's canonical entry files are looked for in it.
"""

from __future__ import annotations

import errno
import importlib
import os
import re
import stat
import struct
from collections.abc import Callable
from dataclasses import dataclass
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
_PROBE_BYTES = 32  # enough for every sniff below (llama2.c's header is 28 bytes)


@dataclass(frozen=True)
class Probe:
    """What sniffing may look at: the path, the file's size and its first bytes (read once)."""

    path: Path
    size: int
    head: bytes


@dataclass(frozen=True)
class Reader:
    """One checkpoint format.

    Attributes:
        name: the format's name (``sniff`` returns it).
        sniff: True when a file's first bytes announce this format; ``None``: the bytes never tell.
        suffixes: file-name endings of this format, for folder candidates and to tell a mistyped
            path from a hub id.
        open: opens a file (or an index file) of this format; called with the path only.
        folder_entries: a folder's canonical entry files of this format, most preferred first.
        suffix_decides: a suffix alone selects this reader when no sniff matched (False where the
            suffix is shared: ``.bin`` is PyTorch or llama2.c).
        index_suffix: a shard index file named directly (``*.safetensors.index.json``) goes to this
            reader; the first record whose ending matches wins.
    """

    name: str
    sniff: Callable[[Probe], bool] | None
    suffixes: tuple[str, ...]
    open: Callable[[Path], Checkpoint]
    folder_entries: tuple[str, ...] = ()
    suffix_decides: bool = True
    index_suffix: str | None = None


def _lazy(module: str, function: str) -> Callable[[Path], Checkpoint]:
    """A reader's open function, imported from its module on first use (optional formats stay cheap)."""

    def open_with(path: Path) -> Checkpoint:
        opener: Callable[[Path], Checkpoint] = getattr(importlib.import_module(module), function)
        return opener(path)

    return open_with


def _is_gguf(p: Probe) -> bool:
    return p.head.startswith(b"GGUF")


def _is_torch(p: Probe) -> bool:
    zip_format = p.head.startswith(b"PK\x03\x04")  # torch.save's zip format
    legacy_pickle = len(p.head) >= 2 and p.head[0] == 0x80 and 2 <= p.head[1] <= 5
    return zip_format or legacy_pickle


def _is_safetensors(p: Probe) -> bool:
    if len(p.head) < 9:
        return False
    (n,) = struct.unpack("<Q", p.head[:8])
    return 2 <= n <= p.size - 8 and p.head[8:9] == b"{"


def _is_llama2c(p: Probe) -> bool:
    from heredity.checkpoint.llama2c_reader import header_matches

    return header_matches(p.head, p.size)


READERS: tuple[Reader, ...] = (
    Reader("safetensors", _is_safetensors, (".safetensors",),
           _lazy("heredity.checkpoint.safetensors_reader", "open_safetensors"),
           folder_entries=("model.safetensors.index.json", "model.safetensors"),
           index_suffix=".safetensors.index.json"),
    Reader("gguf", _is_gguf, (".gguf",), _lazy("heredity.checkpoint.gguf_reader", "open_gguf")),
    Reader("torch", _is_torch, (".bin", ".pt", ".pth"), _lazy("heredity.checkpoint.torch_reader", "open_torch"),
           folder_entries=("pytorch_model.bin.index.json", "pytorch_model.bin"),
           suffix_decides=False, index_suffix=".index.json"),
    Reader("onnx", None, (".onnx",), _lazy("heredity.checkpoint.onnx_reader", "open_onnx"),
           folder_entries=("model.onnx",)),
    Reader("llama2c", _is_llama2c, (".bin",), _lazy("heredity.checkpoint.llama2c_reader", "open_llama2c"),
           suffix_decides=False),
)  # fmt: skip
_SINGLE_SUFFIXES = tuple(dict.fromkeys(s for r in READERS for s in r.suffixes))


def open_checkpoint(source: str | os.PathLike[str]) -> Checkpoint:
    """Open a checkpoint lazily: a folder, a file, or a Hugging Face hub id ``org/name[@rev]``."""
    text = os.fspath(source)
    check_source(text)  # special files, link loops, truncated llama2.c: refused before any reader
    path = Path(text)
    st = _stat(path)
    if st is None:
        if _looks_like_hub_id(text):
            return _open_hub(text)
        raise NotFoundError(
            "no such file or folder", path=text, fix="check the path, or give a hub id org/name"
        )
    if stat.S_ISDIR(st.st_mode):
        return _open_folder(path)
    return _open_file(path, st.st_size)


def _stat(path: Path) -> os.stat_result | None:
    """The one look at the path: its stat, or None where it does not exist (as ``Path.exists`` decides)."""
    try:
        return path.stat()
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP):
            return None
        raise
    except ValueError:  # an embedded NUL byte: no such file
        return None


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


def probe(path: Path, size: int | None = None) -> Probe:
    """Open the file once and keep its first bytes for sniffing."""
    with open(path, "rb") as f:
        head = f.read(_PROBE_BYTES)
        if size is None:
            size = os.fstat(f.fileno()).st_size
    return Probe(path, size, head)


def _sniffed(p: Probe) -> Reader | None:
    return next((r for r in READERS if r.sniff is not None and r.sniff(p)), None)


def sniff(path: Path) -> str | None:
    """The format a file's contents announce (``gguf``, ``torch``, ``safetensors``, ``llama2c``), or
    ``None`` when the bytes alone do not tell."""
    reader = _sniffed(probe(path))
    return reader.name if reader else None


def _index_reader(path: Path) -> Reader | None:
    """The reader of a shard index named directly (chosen by its name: the JSON has no magic)."""
    return next((r for r in READERS if r.index_suffix and path.name.endswith(r.index_suffix)), None)


def _choose(p: Probe) -> Reader | None:
    suffix = p.path.suffix.lower()
    by_suffix = (r for r in READERS if r.suffix_decides and suffix in r.suffixes)
    return _sniffed(p) or next(by_suffix, None)


def _open_file(path: Path, size: int | None = None) -> Checkpoint:
    reader = _index_reader(path) or _choose(probe(path, size))
    if reader is None:
        raise UnsupportedFormatError("not a checkpoint format heredity recognises", path=path, fix=FIX)
    return reader.open(path)


# -- folders -------------------------------------------------------------------------------------


def _open_folder(folder: Path) -> Checkpoint:
    """The folder's canonical entry file, else its only checkpoint-like file; refuse to guess between several."""
    for name in (n for r in READERS for n in r.folder_entries):
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
