"""Pruning: drop whole layers (depth) or hidden channels and MLP neurons (width).

Width pruning keeps the most important units by a weight-only score (Minitron-style pruning uses
activations; weights are enough for ground truth): hidden channels by the norm of their embedding
column, MLP neurons by ||gate_i|| * ||up_i|| * ||down_:,i||.  Kept units stay in their original order,
so a pruned model is a sub-tensor of its parent, as real pruned releases are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from heredity.errors import InputError
from heredity.forge.derive.names import (
    Arrays,
    Derived,
    copy_arrays,
    ffn_parts,
    ffn_prefixes,
    forge_config,
    layer_of,
    residual_axis,
)
from heredity.forge.hf_config import to_hf


def prune_depth(arrays: Arrays, config: dict[str, Any], drop: list[int] | None = None) -> Derived:
    """Remove the layers in ``drop`` (default: the second-to-last, a common choice) and renumber."""
    cfg = forge_config(config)
    drop = [cfg.num_layers - 2] if drop is None else sorted(set(drop))
    if not drop or any(not 0 <= d < cfg.num_layers for d in drop) or len(drop) >= cfg.num_layers:
        raise InputError(f"cannot drop layers {drop} of {cfg.num_layers}", fix="keep at least one layer")
    keep = [i for i in range(cfg.num_layers) if i not in drop]
    new_index = {old: new for new, old in enumerate(keep)}
    out: Arrays = {}
    for name, a in copy_arrays(arrays).items():
        layer = layer_of(name)
        if layer is None:
            out[name] = a
        elif layer in new_index:
            out[name.replace(f"model.layers.{layer}.", f"model.layers.{new_index[layer]}.", 1)] = a
    return out, to_hf(cfg.with_(num_layers=len(keep)))


def _keep_top(scores: np.ndarray, keep: int) -> np.ndarray:
    """Indices of the ``keep`` largest scores, in ascending index order."""
    return np.sort(np.argsort(-scores, kind="stable")[:keep])


def _prune_hidden(out: Arrays, keep_idx: np.ndarray) -> None:
    for name, a in out.items():
        axis = residual_axis(name)
        if axis is not None:
            out[name] = np.take(a, keep_idx, axis=axis)


def _neuron_scores(out: Arrays, prefix: str) -> np.ndarray:
    gate, up, down = ffn_parts(out, prefix)
    width = out[down].shape[1]
    g = out[gate][:width] if up is None else out[gate]
    u = out[gate][width:] if up is None else out[up]
    return np.linalg.norm(g, axis=1) * np.linalg.norm(u, axis=1) * np.linalg.norm(out[down], axis=0)


def _prune_ffn(out: Arrays, prefix: str, fraction: float) -> int:
    gate, up, down = ffn_parts(out, prefix)
    width = out[down].shape[1]
    keep = _keep_top(_neuron_scores(out, prefix), max(1, int(round(width * fraction))))
    if up is None:
        out[gate] = out[gate][np.concatenate([keep, width + keep])]
    else:
        out[gate], out[up] = out[gate][keep], out[up][keep]
    out[down] = out[down][:, keep]
    return len(keep)


def prune_width(arrays: Arrays, config: dict[str, Any], hidden_fraction: float = 0.75,
                neuron_fraction: float = 0.75) -> Derived:
    """Keep ``hidden_fraction`` of residual channels and ``neuron_fraction`` of every MLP's neurons."""
    cfg = forge_config(config)
    if not (0 < hidden_fraction <= 1 and 0 < neuron_fraction <= 1):
        raise InputError("pruning fractions must be in (0, 1]", fix="e.g. --hidden 0.75 --neurons 0.5")
    out = copy_arrays(arrays)
    embed = out["model.embed_tokens.weight"]
    keep_c = _keep_top(np.linalg.norm(embed, axis=0), max(2, int(round(cfg.hidden_size * hidden_fraction))))
    _prune_hidden(out, keep_c)
    widths = {p: _prune_ffn(out, p, neuron_fraction) for p in ffn_prefixes(out)}
    new = cfg.with_(hidden_size=len(keep_c))
    dense = [w for p, w in widths.items() if p.endswith(".mlp") or p.endswith(".shared_expert")]
    routed = [w for p, w in widths.items() if ".experts." in p]
    if cfg.traits.moe == "mixtral":
        new = new.with_(intermediate_size=routed[0])
    elif cfg.traits.moe:
        new = new.with_(moe_intermediate_size=routed[0], shared_intermediate_size=dense[0] if dense else 0)
    else:
        new = new.with_(intermediate_size=dense[0])
    return out, to_hf(new)
