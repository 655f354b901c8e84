"""Re-badging: store a model under another family's names and config.

llama <-> mistral is a pure relabel (identical layouts).  llama/mistral -> qwen2 adds zero q/k/v
biases (exact).  qwen2 -> llama/mistral drops the q/k/v biases: not exact once the biases were
trained; the drift is what a re-badged model would show.  Other families are refused: their
architectures differ in more than names.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from heredity.errors import InputError
from heredity.forge.derive.names import Arrays, Derived, copy_arrays, forge_config
from heredity.forge.hf_config import to_hf

RENAMEABLE = ("llama", "mistral", "qwen2")


def rename(arrays: Arrays, config: dict[str, Any], target: str = "llama") -> Derived:
    """Relabel a llama/mistral/qwen2 model as ``target`` (one of the same three)."""
    cfg = forge_config(config)
    if cfg.family not in RENAMEABLE or target not in RENAMEABLE:
        raise InputError(f"cannot rename {cfg.family} to {target}", fix=f"rename between {', '.join(RENAMEABLE)}")
    out = copy_arrays(arrays)
    if target == "qwen2":
        for i in range(cfg.num_layers):
            for proj in ("q_proj", "k_proj", "v_proj"):
                w = out[f"model.layers.{i}.self_attn.{proj}.weight"]
                out.setdefault(f"model.layers.{i}.self_attn.{proj}.bias", np.zeros(w.shape[0], np.float32))
    else:
        out = {k: v for k, v in out.items() if not k.endswith("_proj.bias")}
    return out, to_hf(cfg.with_(family=target))
