"""Write arrays as checkpoints: one safetensors file, a Hugging Face folder (optionally sharded), or
a PyTorch ``pytorch_model.bin``.

Why our own safetensors writer: the forge and the tests need bf16 / fp16 files from numpy arrays
(``ml_dtypes``), shards of a chosen size and byte-exact control over the layout, with no torch.
The layout is the published one: an 8-byte little-endian header length, a JSON header padded with
spaces to a multiple of 8, then each tensor's bytes in header order.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from heredity.checkpoint.dtypes import convert, safetensors_name

INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"
_ALIGN = 8


def _header_bytes(arrays: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None) -> bytes:
    """The padded JSON header for ``arrays`` (already converted), offsets in iteration order."""
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name, a in arrays.items():
        header[name] = {
            "dtype": safetensors_name(a.dtype),
            "shape": [int(d) for d in a.shape],
            "data_offsets": [offset, offset + int(a.nbytes)],
        }
        offset += int(a.nbytes)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return raw + b" " * (-len(raw) % _ALIGN)


def _write_bytes(f: IO[bytes], a: np.ndarray) -> None:
    """Write a C-contiguous array's bytes without an extra full copy."""
    if a.size:
        f.write(a.reshape(-1).view(np.uint8).data)


def save_safetensors(
    arrays: Mapping[str, np.ndarray],
    path: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
    dtype: str | None = None,
) -> Path:
    """Write ``arrays`` to one safetensors file; ``dtype`` ("F32", "F16", "BF16") converts floats.

    Integer and bool arrays keep their type when ``dtype`` is given; only floating arrays convert.
    """
    converted = {str(k): _convert_float(v, dtype) for k, v in arrays.items()}
    header = _header_bytes(converted, metadata)
    out = Path(path)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(header)))
        f.write(header)
        for a in converted.values():
            _write_bytes(f, a)
    return out


def _convert_float(a: np.ndarray, dtype: str | None) -> np.ndarray:
    arr = np.asarray(a)
    is_float = arr.dtype.kind == "f" or arr.dtype.name in ("bfloat16", "float8_e4m3fn", "float8_e5m2")
    return convert(arr, dtype if is_float else None)


def _plan_shards(sizes: Mapping[str, int], max_shard_bytes: int | None) -> list[list[str]]:
    """Group tensor names, in order, into shards of at most ``max_shard_bytes`` (a larger tensor
    gets a shard of its own)."""
    shards: list[list[str]] = [[]]
    used = 0
    for name, n in sizes.items():
        if max_shard_bytes is not None and shards[-1] and used + n > max_shard_bytes:
            shards.append([])
            used = 0
        shards[-1].append(name)
        used += n
    return shards


def save_hf_folder(
    arrays: Mapping[str, np.ndarray],
    config: dict[str, Any],
    folder: str | os.PathLike[str],
    *,
    max_shard_bytes: int | None = None,
    dtype: str | None = None,
) -> Path:
    """Write a Hugging Face style folder: ``config.json`` plus ``model.safetensors``, or, when the
    tensors exceed ``max_shard_bytes``, ``model-0000k-of-0000n.safetensors`` shards and
    ``model.safetensors.index.json``.  Returns the folder."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    converted = {str(k): _convert_float(v, dtype) for k, v in arrays.items()}
    shards = _plan_shards({k: int(v.nbytes) for k, v in converted.items()}, max_shard_bytes)
    if len(shards) == 1:
        save_safetensors(converted, out / SINGLE_NAME, metadata={"format": "pt"})
        return out
    weight_map: dict[str, str] = {}
    for i, names in enumerate(shards, start=1):
        fname = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_safetensors({n: converted[n] for n in names}, out / fname, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(names, fname))
    total = sum(int(a.nbytes) for a in converted.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (out / INDEX_NAME).write_text(json.dumps(index, indent=2) + "\n")
    return out


def save_pytorch_bin(arrays: Mapping[str, np.ndarray], path: str | os.PathLike[str]) -> Path:
    """Write a torch state dict (``pytorch_model.bin`` style, zip format).  Needs torch."""
    from heredity.errors import require

    torch: Any = require("torch", "torch", "writing PyTorch checkpoints")
    state = {str(k): _to_torch(torch, np.asarray(v)) for k, v in arrays.items()}
    out = Path(path)
    torch.save(state, out)
    return out


# ml_dtypes types torch cannot import directly: (same-width integer view, torch dtype attribute)
_TORCH_VIEWS = {
    "bfloat16": (np.uint16, "bfloat16"),
    "float8_e4m3fn": (np.uint8, "float8_e4m3fn"),
    "float8_e5m2": (np.uint8, "float8_e5m2"),
}


def _to_torch(torch: Any, a: np.ndarray) -> Any:
    """A torch tensor with ``a``'s values and dtype (bf16/fp8 through a bit-level view)."""
    a = np.asarray(a, order="C")
    if a.dtype.name in _TORCH_VIEWS:
        int_type, torch_name = _TORCH_VIEWS[a.dtype.name]
        return torch.from_numpy(a.view(int_type).copy()).view(getattr(torch, torch_name))
    return torch.from_numpy(a.copy())
