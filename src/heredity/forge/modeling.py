"""A tiny decoder LM whose ``state_dict()`` names are exactly the HF names of its family.

Read top to bottom: norm, RoPE, attention, MLP, block, model.  One class serves every family; the
family's :class:`~heredity.forge.config.Traits` decide which submodules exist (and so which names
appear).  Shapes: B batch, T tokens, C hidden, H heads, G kv heads, D head_dim.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from heredity.forge.config import ForgeConfig
from heredity.forge.mlp import MLP, FusedMLP
from heredity.forge.moe import MixtralMoE, Qwen2MoE
from heredity.forge.moge import MoGE


class RMSNorm(nn.Module):
    """RMSNorm in float32; gemma stores w and applies (1 + w)."""

    def __init__(self, dim: int, eps: float, gemma: bool = False) -> None:
        super().__init__()
        self.eps, self.gemma = eps, gemma
        self.weight = nn.Parameter(torch.zeros(dim) if gemma else torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        scale = 1.0 + self.weight.float() if self.gemma else self.weight.float()
        return (h * scale).to(x.dtype)


def rope_tables(rot_dim: int, theta: float, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin of shape (T, rot_dim // 2) for frequencies theta^(-2i/rot_dim)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, rot_dim, 2, dtype=torch.float32) / rot_dim))
    angles = torch.arange(T, dtype=torch.float32)[:, None] * inv_freq[None, :]  # (T, rot_dim/2)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, interleaved: bool) -> torch.Tensor:
    """Rotate the first 2 * cos.shape[-1] channels of x (B, H, T, D); pass the rest through."""
    r = 2 * cos.shape[-1]
    xr, xp = x[..., :r], x[..., r:]
    if interleaved:  # pairs (2i, 2i+1), glm4
        a, b = xr[..., 0::2], xr[..., 1::2]
        out = torch.stack((a * cos - b * sin, b * cos + a * sin), dim=-1).flatten(-2)
    else:  # pairs (i, i + r/2), llama and most others
        a, b = xr[..., : r // 2], xr[..., r // 2 :]
        out = torch.cat((a * cos - b * sin, b * cos + a * sin), dim=-1)
    return torch.cat((out, xp), dim=-1)


class Attention(nn.Module):
    """Causal GQA self-attention with RoPE; optional q/k/v (and o) biases and q/k norms."""

    def __init__(self, cfg: ForgeConfig, layer: int) -> None:
        super().__init__()
        t = cfg.traits
        self.cfg, self.H, self.G, self.D = cfg, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        C, D = cfg.hidden_size, cfg.head_dim
        self.q_proj = nn.Linear(C, self.H * D, bias=t.qkv_bias)
        self.k_proj = nn.Linear(C, self.G * D, bias=t.qkv_bias)
        self.v_proj = nn.Linear(C, self.G * D, bias=t.qkv_bias)
        self.o_proj = nn.Linear(self.H * D, C, bias=t.o_bias)
        if t.qk_norm:
            self.q_norm = RMSNorm(D, cfg.rms_eps, t.gemma_norm)
            self.k_norm = RMSNorm(D, cfg.rms_eps, t.gemma_norm)
        self.theta = cfg.rope_local_theta if cfg.layer_is_sliding(layer) else cfg.rope_theta
        self.rot_dim = int(D * t.rotary_fraction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.H, self.D).transpose(1, 2)  # (B, H, T, D)
        k = self.k_proj(x).view(B, T, self.G, self.D).transpose(1, 2)  # (B, G, T, D)
        v = self.v_proj(x).view(B, T, self.G, self.D).transpose(1, 2)
        if self.cfg.traits.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        cos, sin = rope_tables(self.rot_dim, self.theta, T)
        q = apply_rope(q, cos.to(x.dtype), sin.to(x.dtype), self.cfg.traits.interleaved_rope)
        k = apply_rope(k, cos.to(x.dtype), sin.to(x.dtype), self.cfg.traits.interleaved_rope)
        rep = self.H // self.G
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)  # (B, H, T, D)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1.0 / math.sqrt(self.D))
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.H * self.D))


def make_ffn(cfg: ForgeConfig) -> nn.Module:
    """The feed-forward part of a block: dense, fused, or one of the MoE kinds."""
    if cfg.traits.moe == "mixtral":
        return MixtralMoE(cfg)
    if cfg.traits.moe == "qwen2_moe":
        return Qwen2MoE(cfg)
    if cfg.traits.moe:
        return MoGE(cfg)
    if cfg.traits.fused_mlp:
        return FusedMLP(cfg.hidden_size, cfg.intermediate_size)
    return MLP(cfg.hidden_size, cfg.intermediate_size, cfg.traits.act)


class Block(nn.Module):
    """Pre-norm residual block; gemma3 and glm4 add norms after attention and after the MLP."""

    def __init__(self, cfg: ForgeConfig, layer: int) -> None:
        super().__init__()
        t, C, eps = cfg.traits, cfg.hidden_size, cfg.rms_eps
        self.sandwich = t.sandwich
        self.self_attn = Attention(cfg, layer)
        self.ffn_name = "block_sparse_moe" if t.moe == "mixtral" else "mlp"
        setattr(self, self.ffn_name, make_ffn(cfg))
        self.input_layernorm = RMSNorm(C, eps, t.gemma_norm)
        self.post_attention_layernorm = RMSNorm(C, eps, t.gemma_norm)
        if t.sandwich == "gemma":
            self.pre_feedforward_layernorm = RMSNorm(C, eps, True)
            self.post_feedforward_layernorm = RMSNorm(C, eps, True)
        elif t.sandwich == "glm":
            self.post_self_attn_layernorm = RMSNorm(C, eps)
            self.post_mlp_layernorm = RMSNorm(C, eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ffn = getattr(self, self.ffn_name)
        a = self.self_attn(self.input_layernorm(x))
        if self.sandwich == "gemma":
            x = x + self.post_attention_layernorm(a)
            return x + self.post_feedforward_layernorm(ffn(self.pre_feedforward_layernorm(x)))
        if self.sandwich == "glm":
            x = x + self.post_self_attn_layernorm(a)
            return x + self.post_mlp_layernorm(ffn(self.post_attention_layernorm(x)))
        x = x + a
        return x + ffn(self.post_attention_layernorm(x))


class Backbone(nn.Module):
    """HF's `model.` prefix: embed_tokens, layers.N, norm."""

    def __init__(self, cfg: ForgeConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([Block(cfg, i) for i in range(cfg.num_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_eps, cfg.traits.gemma_norm)


class ForgeLM(nn.Module):
    """The whole model.  ``forward(idx) -> logits``; ``idx`` (B, T) int64, logits (B, T, vocab)."""

    def __init__(self, cfg: ForgeConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = Backbone(cfg)
        if not cfg.tied:
            self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        assert idx.ndim == 2 and idx.shape[1] <= self.cfg.max_seq_len, "idx must be (B, T<=max_seq_len)"
        x = self.model.embed_tokens(idx)  # (B, T, C)
        if self.cfg.traits.gemma_norm:
            x = x * torch.tensor(self.cfg.hidden_size**0.5, dtype=x.dtype)
        for block in self.model.layers:
            x = block(x)
        x = self.model.norm(x)
        head = self.model.embed_tokens.weight if self.cfg.tied else self.lm_head.weight
        return F.linear(x, head)  # (B, T, vocab)


def init_weights(model: ForgeLM, seed: int) -> ForgeLM:
    """GPT-2 style init: N(0, 0.02) for matrices, N(0, 0.02 / sqrt(2 L)) for residual outputs; norms
    keep their identity values, biases start at zero, MoGE router scales at one."""
    g = torch.Generator().manual_seed(seed)
    resid_std = 0.02 / math.sqrt(2 * model.cfg.num_layers)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 2 and "router_scale" not in name:
                std = resid_std if name.endswith(("o_proj.weight", "down_proj.weight", "w2.weight")) else 0.02
                p.copy_(torch.randn(p.shape, generator=g) * std)
            elif name.endswith(".bias"):
                p.zero_()
    return model


def build(cfg: ForgeConfig, seed: int = 0) -> ForgeLM:
    """A freshly initialised model (deterministic in ``seed``)."""
    return init_weights(ForgeLM(cfg), seed)
