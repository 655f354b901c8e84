"""Sparse upcycling: turn a trained dense model into an MoE or MoGE model that starts from it.

* ``upcycle_moe`` (dense llama/mistral -> Mixtral; dense qwen2 -> Qwen2-MoE): every expert is a copy
  of the dense MLP plus optional small noise (Komatsuzaki et al. 2022).  For Mixtral, whose kept
  router weights sum to one, copies without noise reproduce the dense model exactly whatever the
  router; Qwen2-MoE has a shared expert (also a copy) behind a sigmoid gate, so it is close, not exact.
* ``upcycle_moge`` (dense llama/mistral/qwen2 -> Pangu Pro MoE names): ``mode="copies"`` makes each
  expert a copy of the dense MLP; with a zero router and ``router_scale = E / (2K)`` plus a shared
  expert holding half of the dense MLP, the output equals the dense model at init.
  ``mode="segments"`` is fine-grained upcycling: the dense MLP's neurons are shuffled and cut into E
  equal segments, one per expert (what Qwen1.5-MoE describes); the shared expert is the dense MLP at
  half strength.  Segments are not exact: a token sees only K of E segments.
Attention, norms and embeddings are copied unchanged; biases the target family needs are zeros.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from heredity.errors import InputError
from heredity.forge.config import ForgeConfig
from heredity.forge.derive.names import Arrays, Derived, copy_arrays, forge_config

_DENSE_OK = ("llama", "mistral", "qwen2")


def _check_source(cfg: ForgeConfig, what: str) -> None:
    if cfg.family not in _DENSE_OK:
        raise InputError(
            f"{what} starts from a dense llama, mistral or qwen2 model, not {cfg.family}",
            fix="rename the model to llama first, or train a dense source",
        )


def _dense_mlp(arrays: Arrays, layer: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = f"model.layers.{layer}.mlp."
    return arrays[f"{p}gate_proj.weight"], arrays[f"{p}up_proj.weight"], arrays[f"{p}down_proj.weight"]


def _noisy(a: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """a plus Gaussian noise of ``noise`` times a's own std (0 = exact copy)."""
    if noise <= 0:
        return a.copy()
    return (a + rng.standard_normal(a.shape).astype(np.float32) * noise * a.std()).astype(np.float32)


def _non_mlp(arrays: Arrays) -> Arrays:
    return {k: v for k, v in copy_arrays(arrays).items() if ".mlp." not in k}


def _router(rng: np.random.Generator, experts: int, hidden: int, std: float) -> np.ndarray:
    return (rng.standard_normal((experts, hidden)) * std).astype(np.float32)


def upcycle_moe(arrays: Arrays, config: dict[str, Any], experts: int = 4, top_k: int = 2, noise: float = 0.0,
                seed: int = 0, router_std: float = 0.02) -> Derived:
    """Dense -> Mixtral (llama/mistral source) or Qwen2-MoE (qwen2 source) with copied experts."""
    cfg = forge_config(config)
    _check_source(cfg, "MoE upcycling")
    if not 0 < top_k <= experts:
        raise InputError(f"top_k={top_k} must be between 1 and experts={experts}", fix="lower --top-k")
    rng = np.random.default_rng(seed)
    out = _non_mlp(arrays)
    qwen = cfg.family == "qwen2"
    for i in range(cfg.num_layers):
        g, u, d = _dense_mlp(arrays, i)
        p = f"model.layers.{i}.mlp." if qwen else f"model.layers.{i}.block_sparse_moe."
        out[f"{p}gate.weight"] = _router(rng, experts, cfg.hidden_size, router_std)
        for e in range(experts):
            names = ("gate_proj", "up_proj", "down_proj") if qwen else ("w1", "w3", "w2")
            for name, w in zip(names, (g, u, d), strict=True):
                out[f"{p}experts.{e}.{name}.weight"] = _noisy(w, rng, noise)
        if qwen:
            out.update({f"{p}shared_expert.{n}.weight": w.copy() for n, w in
                        zip(("gate_proj", "up_proj", "down_proj"), (g, u, d), strict=True)})
            out[f"{p}shared_expert_gate.weight"] = np.zeros((1, cfg.hidden_size), np.float32)
    new = _moe_config(cfg, experts, top_k, qwen)
    return out, new.to_hf()


def _moe_config(cfg: ForgeConfig, experts: int, top_k: int, qwen: bool) -> ForgeConfig:
    if qwen:
        return cfg.with_(family="qwen2_moe", num_experts=experts, experts_per_tok=top_k,
                         moe_intermediate_size=cfg.intermediate_size, shared_intermediate_size=cfg.intermediate_size)
    return cfg.with_(family="mixtral", num_experts=experts, experts_per_tok=top_k)


def _attention_biases(out: Arrays, cfg: ForgeConfig) -> None:
    """Pangu has q/k/v and o biases: add zeros where the source had none (exact)."""
    for i in range(cfg.num_layers):
        p = f"model.layers.{i}.self_attn."
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            rows = out[f"{p}{proj}.weight"].shape[0]
            out.setdefault(f"{p}{proj}.bias", np.zeros(rows, np.float32))


def _moge_layer(out: Arrays, arrays: Arrays, i: int, plan: dict[str, Any], rng: np.random.Generator) -> None:
    g, u, d = _dense_mlp(arrays, i)
    E, width, mode = plan["experts"], plan["width"], plan["mode"]
    p = f"model.layers.{i}.mlp."
    perm = rng.permutation(g.shape[0])
    for e in range(E):
        rows = perm[e * width : (e + 1) * width] if mode == "segments" else np.arange(g.shape[0])
        out[f"{p}experts.{e}.gate_proj.weight"] = _noisy(g[rows], rng, plan["noise"])
        out[f"{p}experts.{e}.up_proj.weight"] = _noisy(u[rows], rng, plan["noise"])
        out[f"{p}experts.{e}.down_proj.weight"] = _noisy(d[:, rows], rng, plan["noise"])
    out[f"{p}shared_expert.gate_proj.weight"] = g.copy()
    out[f"{p}shared_expert.up_proj.weight"] = u.copy()
    out[f"{p}shared_expert.down_proj.weight"] = 0.5 * d
    out[f"{p}gate.weight"] = _router(rng, E, g.shape[1], plan["router_std"])
    out[f"{p}router_scale"] = np.full((1, E), plan["scale"], np.float32)


def upcycle_moge(arrays: Arrays, config: dict[str, Any], experts: int = 8, groups: int = 4, top_k: int = 4,
                 mode: str = "segments", noise: float = 0.0, seed: int = 0, router_std: float = 0.0) -> Derived:
    """Dense -> MoGE (Pangu Pro MoE names): E experts in G groups, K/G per group per token."""
    cfg = forge_config(config)
    _check_source(cfg, "MoGE upcycling")
    if mode not in ("segments", "copies"):
        raise InputError(f"unknown upcycling mode {mode!r}", fix="use segments or copies")
    if experts % groups or top_k % groups or not 0 < top_k <= experts:
        raise InputError(f"{experts} experts / {groups} groups / top-{top_k} do not split evenly",
                         fix="experts and top_k must be multiples of groups")
    dense_width = cfg.intermediate_size
    if mode == "segments" and dense_width % experts:
        raise InputError(f"intermediate size {dense_width} does not split into {experts} segments", fix="choose a divisor")
    width = dense_width // experts if mode == "segments" else dense_width
    # copies: routed part = (K/E) * scale * f; segments: expected (K/E) * (1/E) * scale * f; both = f / 2
    scale = experts / (2 * top_k) if mode == "copies" else experts * experts / (2 * top_k)
    plan = {"experts": experts, "width": width, "mode": mode, "noise": noise, "scale": scale, "router_std": router_std}
    rng = np.random.default_rng(seed)
    out = _non_mlp(arrays)
    for i in range(cfg.num_layers):
        _moge_layer(out, arrays, i, plan, rng)
    new = cfg.with_(family="pangu_pro_moe", num_experts=experts, experts_per_tok=top_k, expert_groups=groups,
                    moe_intermediate_size=width, shared_intermediate_size=dense_width)
    _attention_biases(out, new)
    return out, new.to_hf()
