"""Measure expert load balance on real batches: MoGE against plain top-K routing of the same size.

The comparison the Pangu Pro MoE paper makes: same experts, same K, same training; one routes top-K
over all E experts, the other top-K/G inside each of G groups.  With experts placed on G devices in
contiguous groups, MoGE's device imbalance score is zero by construction; plain top-K's is not.
Per-expert imbalance is reported too (MoGE does not balance experts *within* a group).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from heredity.forge.config import ForgeConfig, preset
from heredity.forge.data import batches, encode
from heredity.forge.modeling import ForgeLM
from heredity.forge.moge import MoGE, expert_imbalance, imbalance_score
from heredity.forge.train import TrainSettings, train


@dataclass(frozen=True)
class Balance:
    """Load balance of one model on one set of batches (means over MoE layers)."""

    device_is: float  # the paper's imbalance score with one device per expert group
    expert_imbalance: float  # (max - mean) / mean expert load
    tokens: int  # tokens routed per layer


@torch.no_grad()
def routing_ids(model: ForgeLM, idx: torch.Tensor) -> list[torch.Tensor]:
    """Expert ids (N, K) chosen by every MoGE layer for the tokens of ``idx`` (B, T)."""
    seen: list[torch.Tensor] = []

    def grab(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        assert isinstance(module, MoGE)
        seen.append(module.route(inputs[0].reshape(-1, inputs[0].shape[-1]))[1])

    layers = [m for m in model.modules() if isinstance(m, MoGE)]
    handles = [m.register_forward_pre_hook(grab) for m in layers]
    try:
        model.eval()(idx)
    finally:
        for h in handles:
            h.remove()
    return seen


def measure(model: ForgeLM, text: str, devices: int, seed: int = 0, n_batches: int = 4) -> Balance:
    """Mean device IS and expert imbalance over layers on ``n_batches`` seeded batches of ``text``."""
    stream = batches(encode(text), 16, 64, seed)
    ids_per_layer: list[list[torch.Tensor]] = []
    for _ in range(n_batches):
        x, _ = next(stream)
        for layer, ids in enumerate(routing_ids(model, torch.from_numpy(x))):
            if len(ids_per_layer) <= layer:
                ids_per_layer.append([])
            ids_per_layer[layer].append(ids)
    E = model.cfg.num_experts
    all_ids = [torch.cat(chunks) for chunks in ids_per_layer]
    return Balance(
        device_is=float(np.mean([imbalance_score(ids, E, devices) for ids in all_ids])),
        expert_imbalance=float(np.mean([expert_imbalance(ids, E) for ids in all_ids])),
        tokens=int(all_ids[0].shape[0]),
    )


def topk_twin(cfg: ForgeConfig) -> ForgeConfig:
    """The same MoGE layer with one group: plain top-K over all experts."""
    return cfg.with_(expert_groups=1)


def compare(text: str, steps: int = 200, seed: int = 0, eval_text: str | None = None,
            cfg: ForgeConfig | None = None, aux_weight: float = 0.0) -> dict[str, Balance]:
    """Train MoGE and its top-K twin identically on ``text`` (optionally with the load-balancing
    loss at ``aux_weight``); measure both on ``eval_text``."""
    cfg = cfg or preset("pangu_pro_moe")
    settings = TrainSettings(aux_weight=aux_weight)
    out = {}
    for name, c in (("moge", cfg), ("topk", topk_twin(cfg))):
        model, _ = train(c, text, steps, seed, settings=settings)
        out[name] = measure(model, eval_text or text, devices=cfg.expert_groups, seed=seed + 1)
    return out
