"""Plain top-K mixture-of-experts layers with the HF names of Mixtral and Qwen2-MoE.

Both route with a softmax over all experts and keep the K largest probabilities; Mixtral
renormalises the kept K to sum to one, Qwen2-MoE (``norm_topk_prob: false``) does not and adds a
shared expert behind a sigmoid gate.  Shapes: N tokens (B*T flattened), C hidden, E experts.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from heredity.forge.config import ForgeConfig
from heredity.forge.mlp import MLP


class MixtralExpert(nn.Module):
    """Mixtral's expert names: w1 = gate, w3 = up, w2 = down."""

    def __init__(self, C: int, width: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(C, width, bias=False)
        self.w2 = nn.Linear(width, C, bias=False)
        self.w3 = nn.Linear(C, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


def topk_route(logits: torch.Tensor, k: int, renormalise: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax-then-top-K.  logits (N, E) -> weights (N, K), expert ids (N, K)."""
    probs = F.softmax(logits.float(), dim=-1)
    weights, ids = torch.topk(probs, k, dim=-1)
    if renormalise:
        weights = weights / weights.sum(dim=-1, keepdim=True)
    return weights.to(logits.dtype), ids


def dispatch(x: torch.Tensor, experts: nn.ModuleList, weights: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """sum_k weights[n, k] * experts[ids[n, k]](x[n]).  x (N, C), weights/ids (N, K) -> (N, C)."""
    out = torch.zeros_like(x)
    for e, expert in enumerate(experts):
        rows, slot = torch.where(ids == e)
        if rows.numel():
            out.index_add_(0, rows, expert(x[rows]) * weights[rows, slot, None])
    return out


class MixtralMoE(nn.Module):
    """``block_sparse_moe``: gate (router) + experts.N.{w1,w2,w3}."""

    def __init__(self, cfg: ForgeConfig) -> None:
        super().__init__()
        self.k = cfg.experts_per_tok
        self.gate = nn.Linear(cfg.hidden_size, cfg.num_experts, bias=False)
        self.experts = nn.ModuleList(
            [MixtralExpert(cfg.hidden_size, cfg.intermediate_size) for _ in range(cfg.num_experts)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        h = x.reshape(-1, shape[-1])  # (N, C)
        weights, ids = topk_route(self.gate(h), self.k, renormalise=True)
        return dispatch(h, self.experts, weights, ids).view(shape)


class Qwen2MoE(nn.Module):
    """``mlp``: gate + experts.N.{gate,up,down}_proj + shared_expert + shared_expert_gate."""

    def __init__(self, cfg: ForgeConfig) -> None:
        super().__init__()
        C = cfg.hidden_size
        self.k = cfg.experts_per_tok
        self.gate = nn.Linear(C, cfg.num_experts, bias=False)
        self.experts = nn.ModuleList([MLP(C, cfg.moe_intermediate_size) for _ in range(cfg.num_experts)])
        self.shared_expert = MLP(C, cfg.shared_intermediate_size)
        self.shared_expert_gate = nn.Linear(C, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        h = x.reshape(-1, shape[-1])  # (N, C)
        weights, ids = topk_route(self.gate(h), self.k, renormalise=False)
        out = dispatch(h, self.experts, weights, ids)
        out = out + torch.sigmoid(self.shared_expert_gate(h)) * self.shared_expert(h)
        return out.view(shape)
