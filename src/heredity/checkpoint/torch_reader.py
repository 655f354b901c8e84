"""PyTorch checkpoints: ``pytorch_model.bin`` (+ sharded index), nanoGPT / llama2.c ``ckpt.pt``.

Only ``torch.load(weights_only=True)`` is ever used: torch's restricted unpickler admits tensors and
plain containers and refuses any other global, which we report as :class:`UnsafeCheckpointError`.
Zip-format files are loaded with ``mmap=True`` so the state dict is an inventory whose storage is
paged in only when a tensor is read; legacy (non-zip) pickles cannot be mapped and load eagerly.
"""

from __future__ import annotations

import math
import os
import pickle
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from heredity.checkpoint.base import Checkpoint, TensorInfo
from heredity.checkpoint.config_file import config_beside
from heredity.checkpoint.scan import note_nonfinite
from heredity.checkpoint.shard_index import read_weight_map, shard_path
from heredity.errors import (
    CorruptCheckpointError,
    InputError,
    UnsafeCheckpointError,
    UnsupportedFormatError,
    require,
    safe_name,
)

_PREFIXES = ("_orig_mod.", "module.")  # torch.compile and DataParallel wrappers
_NESTED_KEYS = ("model", "state_dict", "model_state_dict")
_UNSAFE_FIX = "heredity only loads tensors; convert the file with a trusted tool (e.g. to safetensors)"
# torch dtype name -> the name TensorInfo reports (safetensors spelling where one exists)
_DTYPE_NAMES = {
    "float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16",
    "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2", "int64": "I64", "int32": "I32",
    "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL",
}  # fmt: skip


def _torch() -> Any:
    return require("torch", "torch", "reading PyTorch checkpoints")


def safe_load(path: Path) -> Any:
    """``torch.load`` restricted to tensors and containers; refuse anything else, naming the file."""
    torch = _torch()
    try:
        mappable = zipfile.is_zipfile(path)
        with warnings.catch_warnings():  # torch warns about pickle protocols; the CLI prints one line
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mappable)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"the safe loader refuses this pickle ({safe_name(_refusal(str(exc)), 160)})",
            path=path,
            fix=_UNSAFE_FIX,
        ) from None
    except Exception as exc:  # a damaged pickle or zip makes torch raise almost anything
        raise CorruptCheckpointError(
            f"cannot load as a PyTorch checkpoint ({type(exc).__name__}: {safe_name(exc, 160)})",
            path=path,
            fix="the file is truncated or not a PyTorch checkpoint; re-download or re-save it",
        ) from None


_BOILERPLATE = ("Weights only load failed", "Please file an issue", "Check the documentation", "In PyTorch")


def _refusal(message: str) -> str:
    """The line of torch's weights-only error that says what was refused (e.g. a blocked global)."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(_BOILERPLATE)]
    return useful[0] if useful else "unsupported pickle content"


def state_dict_of(obj: Any, path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(tensors by stripped name, training ``model_args`` or ``{}``) from a loaded object."""
    torch = _torch()
    if not isinstance(obj, dict):
        raise UnsupportedFormatError(
            f"holds a {type(obj).__name__}, not a state dict", path=path, fix="save model.state_dict()"
        )
    inner = next((obj[k] for k in _NESTED_KEYS if isinstance(obj.get(k), dict)), obj)
    tensors: dict[str, Any] = {}
    for key, value in inner.items():
        if isinstance(key, str) and isinstance(value, torch.Tensor):
            tensors[_strip(key)] = value
    if not tensors:
        raise UnsupportedFormatError("holds no tensors", path=path, fix="save model.state_dict()")
    args = obj.get("model_args")
    return tensors, dict(args) if isinstance(args, dict) else {}


def _strip(name: str) -> str:
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name


class TorchCheckpoint(Checkpoint):
    """A loaded (memory-mapped where possible) state dict behind the checkpoint contract."""

    def __init__(self, source: Path, tensors: dict[str, Any], files: dict[str, Path], config: dict[str, Any]):
        self.source = str(source)
        self.format = "pytorch"
        self.config = config
        self.warnings: list[str] = []
        self._tensors = tensors
        self._inventory = {name: self._info(name, t, files[name]) for name, t in tensors.items()}

    @staticmethod
    def _info(name: str, t: Any, file: Path) -> TensorInfo:
        dtype = str(t.dtype).removeprefix("torch.")
        nbytes = int(t.numel()) * int(t.element_size())
        return TensorInfo(
            name, tuple(int(d) for d in t.shape), _DTYPE_NAMES.get(dtype, dtype), nbytes, str(file)
        )

    @property
    def tensors(self) -> Mapping[str, TensorInfo]:
        return self._inventory

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        self.info(name)
        if not self._tensors:
            raise InputError("checkpoint is closed", path=self.source, fix="open it again")
        t = self._tensors[name]
        if rows is not None:
            if t.dim() == 0:
                raise InputError(f"tensor '{safe_name(name)}' is a scalar; it has no rows", path=self.source)
            t = t[rows]
        # always a fresh copy: a float32 tensor converts without copying and would alias the file map
        out = np.array(t.detach().to(dtype=_torch().float32).numpy(), dtype=np.float32, order="C", copy=True)
        note_nonfinite(self, name, out)
        return out

    def close(self) -> None:
        self._tensors = {}


def open_torch(path: str | os.PathLike[str]) -> TorchCheckpoint:
    """Open a PyTorch state-dict file, or a ``pytorch_model.bin.index.json`` and its shards."""
    p = Path(path)
    files = [p]
    if p.name.endswith(".index.json"):
        files = [shard_path(p.parent, f, p) for f in sorted(set(read_weight_map(p).values()))]
    tensors: dict[str, Any] = {}
    where: dict[str, Path] = {}
    model_args: dict[str, Any] = {}
    for file in files:
        found, args = state_dict_of(safe_load(file), file)
        tensors.update(found)
        where.update(dict.fromkeys(found, file))
        model_args = model_args or args
    return TorchCheckpoint(p, tensors, where, _config(p, model_args, tensors))


def _config(path: Path, model_args: dict[str, Any], tensors: dict[str, Any]) -> dict[str, Any]:
    """``config.json`` beside the file if any, else one synthesised from llama2.c/nanoGPT ``model_args``
    (kept whole under ``model_args``; the HF keys are added for llama2.c-named tensors)."""
    beside = config_beside(path)
    model_args = {k: v for k, v in model_args.items() if not (isinstance(v, float) and not math.isfinite(v))}
    if beside or not model_args:
        return beside
    config: dict[str, Any] = {"model_args": model_args}
    if "tok_embeddings.weight" in tensors:
        config.update(_llama2c_keys(model_args, tensors))
    return config


def _llama2c_keys(args: dict[str, Any], tensors: dict[str, Any]) -> dict[str, Any]:
    """The keys the llama2.c reader synthesises, so ``ckpt.pt`` and its ``model.bin`` export agree.
    Widths come from shapes; tying from shared storage (no tensor bytes are read)."""
    emb = tensors["tok_embeddings.weight"]
    out, w1 = tensors.get("output.weight"), tensors.get("layers.0.feed_forward.w1.weight")
    return {
        "model_type": "llama2c",
        "hidden_size": int(emb.shape[1]),
        "num_attention_heads": args.get("n_heads"),
        "num_key_value_heads": args.get("n_kv_heads") or args.get("n_heads"),
        "intermediate_size": None if w1 is None else int(w1.shape[0]),
        "num_hidden_layers": args.get("n_layers"),
        "vocab_size": int(emb.shape[0]),
        "max_position_embeddings": args.get("max_seq_len"),
        "tie_word_embeddings": out is None or _same_storage(emb, out),
    }


def _same_storage(a: Any, b: Any) -> bool:
    return bool(a.shape == b.shape and a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr())
