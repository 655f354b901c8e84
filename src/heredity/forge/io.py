"""Move forge models between torch, numpy state dicts and HF folders on disk.

Derivations work on plain ``dict[str, np.ndarray]`` (the HF names) plus the config.json dict, so a
derived model is just new arrays + a config.  Saving goes through the checkpoint package's writer
(``save_hf_folder``) when it exists; until then a minimal safetensors + config.json writer is used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from heredity.errors import CorruptCheckpointError, InputError, NotFoundError, safe_name
from heredity.forge.hf_config import from_hf, to_hf

MAX_CONFIG_BYTES = 1_000_000  # a config.json larger than this is not a forge config

if TYPE_CHECKING:
    from heredity.forge.modeling import ForgeLM

Arrays = dict[str, np.ndarray]


def to_arrays(model: ForgeLM) -> Arrays:
    """float32 numpy copy of the state dict (HF names)."""
    return {k: v.detach().cpu().float().numpy().copy() for k, v in model.state_dict().items()}


def from_arrays(arrays: Arrays, config: dict[str, Any], path: object = None) -> ForgeLM:
    """Build the forge module for ``config`` and load ``arrays`` into it (strict: names must match)."""
    import torch

    from heredity.forge.modeling import ForgeLM

    model = ForgeLM(from_hf(config, path))
    state = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in arrays.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CorruptCheckpointError(
            f"tensors do not fit the {safe_name(config.get('model_type'))} layout "
            f"(missing {safe_name(sorted(missing)[:3])}, unexpected {safe_name(sorted(unexpected)[:3])})",
            path=path,
            fix="derive with a kind that keeps the family, or rename first",
        )
    return model.eval()


def save_folder(arrays: Arrays, config: dict[str, Any], folder: str | Path, max_shard_bytes: int | None = None) -> Path:
    """Write an HF folder: config.json + model.safetensors (or shards + index)."""
    folder = Path(folder)
    try:
        from heredity.checkpoint.writers import save_hf_folder
    except ImportError:
        return _save_plain(arrays, config, folder, max_shard_bytes)
    save_hf_folder(arrays, config, folder, max_shard_bytes=max_shard_bytes)
    return folder


def _save_plain(arrays: Arrays, config: dict[str, Any], folder: Path, max_shard_bytes: int | None) -> Path:
    """Fallback writer: sharded by ``max_shard_bytes`` with a model.safetensors.index.json."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    shards: list[Arrays] = [{}]
    size = 0
    for name, a in arrays.items():
        if max_shard_bytes and shards[-1] and size + a.nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = np.ascontiguousarray(a)
        size += a.nbytes
    if len(shards) == 1:
        save_file(shards[0], str(folder / "model.safetensors"), metadata={"format": "pt"})
        return folder
    weight_map = {}
    for i, shard in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(folder / fname), metadata={"format": "pt"})
        weight_map.update({k: fname for k in shard})
    total = sum(a.nbytes for a in arrays.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    return folder


def load_folder(folder: str | Path) -> tuple[Arrays, dict[str, Any]]:
    """Read back what :func:`save_folder` wrote (single file or shards), as float32 arrays."""
    from safetensors.numpy import load_file

    folder = Path(folder)
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise NotFoundError("no config.json in this folder", path=folder, fix="pass a folder written by heredity forge")
    config = _read_config(cfg_path)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise NotFoundError("no .safetensors files in this folder", path=folder, fix="train or derive it first")
    arrays: Arrays = {}
    for f in files:
        arrays.update({k: v.astype(np.float32) for k, v in load_file(str(f)).items()})
    return arrays, config


def _read_config(path: Path) -> dict[str, Any]:
    """config.json as a dict, refusing oversized or malformed files."""
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise InputError("config.json is implausibly large", path=path, fix="use a folder written by heredity forge")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptCheckpointError(f"config.json is not valid JSON ({exc.__class__.__name__})", path=path,
                                     fix="rewrite it or re-run heredity forge") from None
    if not isinstance(config, dict):
        raise CorruptCheckpointError("config.json is not a JSON object", path=path, fix="re-run heredity forge")
    return config


def save_model(model: ForgeLM, folder: str | Path, max_shard_bytes: int | None = None) -> Path:
    return save_folder(to_arrays(model), to_hf(model.cfg), folder, max_shard_bytes)


def load_model(folder: str | Path) -> ForgeLM:
    arrays, config = load_folder(folder)
    return from_arrays(arrays, config, folder)
