"""Obfuscations that keep the function exactly: permutations and rescalings of interchangeable units.

These are what someone hiding a model's origin would do first, and what the permutation-robust
tests must see through.  Each returns new arrays and the unchanged config.
* ``permute_hidden``  — reorder residual channels everywhere (RMSNorm is permutation-equivariant).
* ``permute_neurons`` — reorder MLP neurons inside each MLP/expert; reorder experts (within MoGE groups).
* ``permute_heads``   — reorder KV groups, and query heads inside each group (GQA ties them).
* ``rescale``         — multiply norm weights by s and divide the linears they feed by s; scale up/v
  rows and divide down/o columns.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from heredity.forge.derive.names import (
    Arrays,
    Derived,
    copy_arrays,
    ffn_parts,
    ffn_prefixes,
    forge_config,
    residual_axis,
)


def permute_hidden(arrays: Arrays, config: dict[str, Any], seed: int = 0) -> Derived:
    """Apply one random permutation to every residual-stream axis."""
    C = int(config["hidden_size"])
    perm = np.random.default_rng(seed).permutation(C)
    out = copy_arrays(arrays)
    for name, a in out.items():
        axis = residual_axis(name)
        if axis is not None:
            assert a.shape[axis] == C, f"{name} axis {axis} is not hidden-sized"
            out[name] = np.take(a, perm, axis=axis)
    return out, dict(config)


def _permute_ffn(out: Arrays, prefix: str, perm: np.ndarray) -> None:
    gate, up, down = ffn_parts(out, prefix)
    if up is None:  # fused gate_up: same permutation on both halves
        width = out[down].shape[1]
        out[gate] = out[gate][np.concatenate([perm, width + perm])]
    else:
        out[gate], out[up] = out[gate][perm], out[up][perm]
    out[down] = out[down][:, perm]


def permute_neurons(arrays: Arrays, config: dict[str, Any], seed: int = 0, experts: bool = True) -> Derived:
    """Random neuron order in every MLP / expert; with ``experts`` also a random expert order."""
    rng = np.random.default_rng(seed)
    out = copy_arrays(arrays)
    for prefix in ffn_prefixes(out):
        width = out[ffn_parts(out, prefix)[2]].shape[1]
        _permute_ffn(out, prefix, rng.permutation(width))
    if experts and int(config.get("num_experts", config.get("num_local_experts", 0)) or 0):
        out = _permute_experts(out, forge_config(config).expert_groups, rng)
    return out, dict(config)


def _expert_perm(n: int, groups: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation of n experts that keeps each of ``groups`` contiguous groups in place (MoGE)."""
    per = n // groups
    return np.concatenate([g * per + rng.permutation(per) for g in range(groups)])


def _permute_experts(arrays: Arrays, groups: int, rng: np.random.Generator) -> Arrays:
    out = dict(arrays)
    pat = re.compile(r"^(.*\.experts)\.(\d+)\.(.*)$")
    by_layer: dict[str, int] = {}
    for name in arrays:
        m = pat.match(name)
        if m:
            by_layer[m.group(1)] = max(by_layer.get(m.group(1), 0), int(m.group(2)) + 1)
    for experts, n in by_layer.items():
        perm = _expert_perm(n, groups, rng)
        for name in arrays:
            m = pat.match(name)
            if m and m.group(1) == experts:
                out[f"{experts}.{int(np.where(perm == int(m.group(2)))[0][0])}.{m.group(3)}"] = arrays[name]
        parent = experts.removesuffix(".experts")
        out[f"{parent}.gate.weight"] = arrays[f"{parent}.gate.weight"][perm]
        if f"{parent}.router_scale" in arrays:
            out[f"{parent}.router_scale"] = arrays[f"{parent}.router_scale"][:, perm]
    return out


def _head_order(heads: int, kv: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(query head order, kv head order): kv groups shuffled, queries shuffled within their group."""
    rep = heads // kv
    kv_order = rng.permutation(kv)
    q_order = np.concatenate([g * rep + rng.permutation(rep) for g in kv_order])
    return q_order, kv_order


def _rows_by_head(a: np.ndarray, order: np.ndarray, D: int, axis: int = 0) -> np.ndarray:
    idx = (order[:, None] * D + np.arange(D)[None, :]).reshape(-1)
    return np.take(a, idx, axis=axis)


def permute_heads(arrays: Arrays, config: dict[str, Any], seed: int = 0) -> Derived:
    """Shuffle attention heads in every layer, respecting GQA (queries move with their KV head)."""
    cfg = forge_config(config)
    rng = np.random.default_rng(seed)
    out = copy_arrays(arrays)
    D = cfg.head_dim
    for i in range(cfg.num_layers):
        q_order, kv_order = _head_order(cfg.num_heads, cfg.num_kv_heads, rng)
        p = f"model.layers.{i}.self_attn."
        for proj, order in (("q_proj", q_order), ("k_proj", kv_order), ("v_proj", kv_order)):
            for kind in ("weight", "bias"):
                if f"{p}{proj}.{kind}" in out:
                    out[f"{p}{proj}.{kind}"] = _rows_by_head(out[f"{p}{proj}.{kind}"], order, D)
        out[f"{p}o_proj.weight"] = _rows_by_head(out[f"{p}o_proj.weight"], q_order, D, axis=1)
    return out, dict(config)


def permute_all(arrays: Arrays, config: dict[str, Any], seed: int = 0) -> Derived:
    """All three permutations at once: hidden channels, then neurons/experts, then heads."""
    arrays, config = permute_hidden(arrays, config, seed)
    arrays, config = permute_neurons(arrays, config, seed + 1)
    return permute_heads(arrays, config, seed + 2)
