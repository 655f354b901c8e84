"""Shard indexes (``*.index.json``): a ``weight_map`` from tensor name to shard file.

Why separate: safetensors and PyTorch shard indexes share the shape and the danger.  The index is
hostile input; a shard name must be a plain relative path that stays inside the model folder (no
absolute path, no ``..``, no symlink leading out), and a missing shard is named in the error.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from heredity.checkpoint.config_file import read_json_object
from heredity.errors import CorruptCheckpointError, NotFoundError, UnsafeCheckpointError, safe_name

MAX_INDEX_BYTES = 64 << 20
INDEX_FIX = "the index must map tensor names to shard files inside the model folder; re-download it"


def read_weight_map(index: Path) -> dict[str, str]:
    doc = read_json_object(index, MAX_INDEX_BYTES, what="safetensors index")
    wm = doc.get("weight_map")
    if not isinstance(wm, dict) or not all(isinstance(v, str) for v in wm.values()):
        raise CorruptCheckpointError(
            "index has no 'weight_map' object of file names", path=index, fix=INDEX_FIX
        )
    return dict(wm)


def shard_path(folder: Path, fname: str, index: Path) -> Path:
    """Resolve a shard name from the index, refusing anything that leaves the folder."""
    pure = PurePosixPath(fname)
    if not fname or "\\" in fname or pure.is_absolute() or ".." in pure.parts or Path(fname).is_absolute():
        raise UnsafeCheckpointError(
            f"index names shard '{safe_name(fname)}' outside the model folder", path=index, fix=INDEX_FIX
        )
    shard = folder / pure
    try:
        exists = shard.exists()
    except OSError as exc:  # a name too long for the file system, ...
        raise CorruptCheckpointError(f"index names shard '{safe_name(fname)}', which is not a usable file name "
                                     f"({exc.strerror})", path=index, fix=INDEX_FIX) from None
    if not exists:
        raise NotFoundError(
            f"shard '{safe_name(fname)}' named by the index is missing",
            path=index,
            fix="download every shard",
        )
    if not shard.resolve().is_relative_to(folder.resolve()):
        raise UnsafeCheckpointError(
            f"shard '{safe_name(fname)}' is a link leading outside the model folder",
            path=index,
            fix=INDEX_FIX,
        )
    if not shard.is_file():
        raise CorruptCheckpointError(f"shard '{safe_name(fname)}' is not a file", path=index, fix=INDEX_FIX)
    return shard
