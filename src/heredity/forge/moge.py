"""Mixture of Grouped Experts (MoGE), as in Pangu Pro MoE (Tang et al. 2025, arXiv 2505.21411).

E experts are split into G equal groups (in the paper, one group per device).  The router takes a
softmax over *all* E experts, then keeps the top K/G experts inside *every* group, so each group
(device) receives exactly K/G experts per token and the device load is balanced by construction.
The kept probabilities are not renormalised; each is multiplied by a learned per-expert
``router_scale`` (stored as ``mlp.router_scale`` of shape (1, E)).  A shared expert is always on.

Also here: the paper's imbalance score, to measure MoGE against plain top-K routing on real batches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from heredity.forge.config import ForgeConfig
from heredity.forge.mlp import MLP
from heredity.forge.moe import dispatch


def grouped_topk(probs: torch.Tensor, groups: int, k_per_group: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k_per_group inside each of ``groups`` contiguous expert groups.

    probs (N, E) -> weights (N, G*kg), global expert ids (N, G*kg), ordered group by group.
    """
    N, E = probs.shape
    assert E % groups == 0, "experts must split into equal groups"
    per = E // groups
    w, local = torch.topk(probs.view(N, groups, per), k_per_group, dim=-1)  # (N, G, kg)
    offsets = (torch.arange(groups, device=probs.device) * per)[None, :, None]  # (1, G, 1)
    return w.reshape(N, -1), (local + offsets).reshape(N, -1)


class MoGE(nn.Module):
    """Pangu Pro MoE's ``mlp``: gate, experts.N.{gate,up,down}_proj, shared_expert, router_scale."""

    def __init__(self, cfg: ForgeConfig) -> None:
        super().__init__()
        C, E = cfg.hidden_size, cfg.num_experts
        self.groups, self.kg = cfg.expert_groups, cfg.experts_per_tok // cfg.expert_groups
        self.gate = nn.Linear(C, E, bias=False)
        self.experts = nn.ModuleList([MLP(C, cfg.moe_intermediate_size) for _ in range(E)])
        self.shared_expert = MLP(C, cfg.shared_intermediate_size) if cfg.shared_intermediate_size else None
        self.router_scale = nn.Parameter(torch.ones(1, E))
        self.aux_loss = torch.zeros(())  # load-balancing loss of the last training forward

    def route(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """h (N, C) -> weights (N, K), expert ids (N, K)."""
        probs = F.softmax(self.gate(h).float(), dim=-1)  # (N, E)
        weights, ids = grouped_topk(probs, self.groups, self.kg)
        if self.training:
            self.aux_loss = balance_loss(probs, ids)
        weights = weights * self.router_scale[0, ids]
        return weights.to(h.dtype), ids

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        h = x.reshape(-1, shape[-1])  # (N, C)
        weights, ids = self.route(h)
        out = dispatch(h, self.experts, weights, ids)
        if self.shared_expert is not None:
            out = out + self.shared_expert(h)
        return out.view(shape)


def balance_loss(probs: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Batch-level auxiliary load-balancing loss on the global softmax scores (the kind the paper adds
    on top of grouping): E * sum_i f_i P_i, f_i the share of routed slots expert i received, P_i its
    mean probability.  1.0 when perfectly balanced.  probs (N, E), ids (N, K)."""
    E = probs.shape[-1]
    f = expert_loads(ids, E).float() / ids.numel()  # (E,), no gradient
    return E * (f * probs.mean(0)).sum()


def expert_loads(ids: torch.Tensor, num_experts: int) -> torch.Tensor:
    """Tokens routed to each expert.  ids (N, K) -> counts (E,)."""
    return torch.bincount(ids.reshape(-1), minlength=num_experts)


def imbalance_score(ids: torch.Tensor, num_experts: int, devices: int) -> float:
    """The paper's imbalance score IS(X) = (max_i T_i(X) - min_i T_i(X)) / |X|, where T_i is the number
    of expert computations device i (holding experts [i E/D, (i+1) E/D)) performs for a batch X of
    |X| tokens.  0 = every device equally loaded."""
    loads = expert_loads(ids, num_experts).view(devices, -1).sum(-1).float()  # (D,)
    return float((loads.max() - loads.min()) / ids.shape[0])


def expert_imbalance(ids: torch.Tensor, num_experts: int) -> float:
    """Per-expert relative imbalance (max load - mean load) / mean load; 0 = every expert equal.
    Not from the paper: MoGE balances devices (groups), this shows what happens *inside* them."""
    loads = expert_loads(ids, num_experts).float()
    return float((loads.max() - loads.mean()) / loads.mean())
