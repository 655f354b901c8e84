"""Which axes of which tensor touch the residual stream, MLP neurons or attention heads.

The obfuscations and the width pruner need to know, for every HF name the forge writes, which axis
indexes hidden channels (the residual stream), which indexes MLP neurons, and which heads.  The
rules are by name, never by shape (q_proj is often square).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from heredity.forge.config import ForgeConfig
from heredity.forge.hf_config import from_hf

Arrays = dict[str, np.ndarray]
Derived = tuple[Arrays, dict[str, Any]]

_LAYER = re.compile(r"^model\.layers\.(\d+)\.")
_WRITES_RESIDUAL = ("o_proj.weight", "o_proj.bias", "down_proj.weight", "w2.weight")
_NO_RESIDUAL = ("q_norm.weight", "k_norm.weight", "router_scale", "q_proj.bias", "k_proj.bias", "v_proj.bias")


def residual_axis(name: str) -> int | None:
    """Axis of ``name`` indexed by hidden (residual) channels, or None."""
    if name.endswith(_NO_RESIDUAL):
        return None
    if name.endswith(_WRITES_RESIDUAL) or name.endswith("norm.weight"):
        return 0
    if name.endswith(".weight"):
        return 1  # embed, lm_head, every linear that reads the stream (q/k/v, gate/up, routers)
    return None


def layer_of(name: str) -> int | None:
    m = _LAYER.match(name)
    return int(m.group(1)) if m else None


def copy_arrays(arrays: Arrays) -> Arrays:
    return {k: np.array(v, dtype=np.float32, copy=True) for k, v in arrays.items()}


def ffn_prefixes(arrays: Arrays) -> list[str]:
    """Every gated MLP in the model (dense MLPs, each expert, shared experts), by name prefix."""
    out = set()
    for name in arrays:
        for suffix in (".gate_proj.weight", ".w1.weight", ".gate_up_proj.weight"):
            if name.endswith(suffix):
                out.add(name[: -len(suffix)])
    return sorted(out)


def ffn_parts(arrays: Arrays, prefix: str) -> tuple[str, str, str] | tuple[str, None, str]:
    """(gate, up, down) names of one MLP; up is None for glm4's fused gate_up_proj."""
    if f"{prefix}.w1.weight" in arrays:
        return f"{prefix}.w1.weight", f"{prefix}.w3.weight", f"{prefix}.w2.weight"
    if f"{prefix}.gate_up_proj.weight" in arrays:
        return f"{prefix}.gate_up_proj.weight", None, f"{prefix}.down_proj.weight"
    return f"{prefix}.gate_proj.weight", f"{prefix}.up_proj.weight", f"{prefix}.down_proj.weight"


def forge_config(config: dict[str, Any]) -> ForgeConfig:
    return from_hf(config)
