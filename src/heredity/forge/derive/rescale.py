"""Rescaling obfuscation: change every weight's scale while keeping the function exactly.

Three exact symmetries of these decoders, each with a random positive scale per channel:
1. an RMSNorm weight w (per hidden channel) times s, and the columns of every linear reading that
   norm's output divided by s (gemma stores w' with effect 1 + w', handled);
2. an MLP's up-projection rows times t and its down-projection columns divided by t (the gate
   goes through the nonlinearity, the up projection does not);
3. value rows (and bias) times u and the matching output-projection columns divided by u.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from heredity.forge.derive.names import Arrays, Derived, copy_arrays, ffn_parts, ffn_prefixes, forge_config


def _scales(rng: np.random.Generator, n: int, spread: float) -> np.ndarray:
    return np.exp(rng.uniform(-np.log(spread), np.log(spread), size=n)).astype(np.float32)


def _scale_norm(out: Arrays, norm: str, s: np.ndarray, gemma: bool) -> None:
    w = out[norm]
    out[norm] = (1.0 + w) * s - 1.0 if gemma else w * s


def _norm_consumers(out: Arrays, layer: int, gemma: bool) -> list[tuple[str, list[str]]]:
    """(norm name, names of the linears that read its output) for one layer."""
    p = f"model.layers.{layer}."
    attn = [f"{p}self_attn.{x}_proj.weight" for x in "qkv"]
    ffn_norm = f"{p}pre_feedforward_layernorm.weight" if gemma else f"{p}post_attention_layernorm.weight"
    ffn = [n for n in out if n.startswith((f"{p}mlp.", f"{p}block_sparse_moe."))
           and n.endswith(".weight") and not n.endswith(("down_proj.weight", "w2.weight"))]
    return [(f"{p}input_layernorm.weight", attn), (ffn_norm, ffn)]


def _rescale_norms(out: Arrays, cfg_gemma: bool, tied: bool, layers: int, rng: np.random.Generator,
                   spread: float) -> None:
    pairs = [pair for i in range(layers) for pair in _norm_consumers(out, i, cfg_gemma)]
    if not tied:
        pairs.append(("model.norm.weight", ["lm_head.weight"]))
    for norm, readers in pairs:
        s = _scales(rng, out[norm].shape[0], spread)
        _scale_norm(out, norm, s, cfg_gemma)
        for r in readers:
            out[r] = out[r] / s[None, :]


def _rescale_ffns(out: Arrays, rng: np.random.Generator, spread: float) -> None:
    for prefix in ffn_prefixes(out):
        gate, up, down = ffn_parts(out, prefix)
        width = out[down].shape[1]
        t = _scales(rng, width, spread)
        if up is None:
            out[gate] = out[gate] * np.concatenate([np.ones(width, np.float32), t])[:, None]
        else:
            out[up] = out[up] * t[:, None]
        out[down] = out[down] / t[None, :]


def _rescale_values(out: Arrays, layers: int, heads: int, kv: int, D: int, rng: np.random.Generator,
                    spread: float) -> None:
    rep = heads // kv
    for i in range(layers):
        p = f"model.layers.{i}.self_attn."
        u = _scales(rng, kv * D, spread)  # per value channel
        out[f"{p}v_proj.weight"] = out[f"{p}v_proj.weight"] * u[:, None]
        if f"{p}v_proj.bias" in out:
            out[f"{p}v_proj.bias"] = out[f"{p}v_proj.bias"] * u
        per_query = np.repeat(u.reshape(kv, D), rep, axis=0).reshape(-1)  # (heads * D,)
        out[f"{p}o_proj.weight"] = out[f"{p}o_proj.weight"] / per_query[None, :]


def rescale(arrays: Arrays, config: dict[str, Any], seed: int = 0, spread: float = 2.0) -> Derived:
    """Apply all three rescalings with scales drawn log-uniformly in [1/spread, spread]."""
    cfg = forge_config(config)
    rng = np.random.default_rng(seed)
    out = copy_arrays(arrays)
    _rescale_norms(out, cfg.traits.gemma_norm, cfg.tied, cfg.num_layers, rng, spread)
    _rescale_ffns(out, rng, spread)
    _rescale_values(out, cfg.num_layers, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim, rng, spread)
    return out, dict(config)
