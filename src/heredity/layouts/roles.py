"""The canonical roles a tensor can play, whatever a family calls it.

Canonical orientation (what :meth:`heredity.layouts.model.Model.get` returns):
linear weights are ``[out_features, in_features]`` (the HF ``nn.Linear`` convention), embeddings
``[vocab, hidden]``, norms the *effective* scale (Gemma's stored ``w`` becomes ``1 + w``), q/k rows in
HF (rotate-half) order, fused tensors split.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    # whole-model tensors
    EMBED = "embed"  # [vocab, hidden]
    POS_EMBED = "pos_embed"  # [positions, hidden] (gpt2, bert)
    TYPE_EMBED = "type_embed"  # [types, hidden] (bert)
    EMBED_NORM = "embed_norm"  # bert embeddings LayerNorm
    EMBED_NORM_BIAS = "embed_norm_bias"
    LM_HEAD = "lm_head"  # [vocab, hidden]
    FINAL_NORM = "final_norm"  # [hidden]
    FINAL_NORM_BIAS = "final_norm_bias"
    POOLER = "pooler"  # bert pooler.dense [hidden, hidden]
    POOLER_BIAS = "pooler_bias"
    # attention
    ATTN_NORM = "attn_norm"  # input_layernorm [hidden]
    ATTN_NORM_BIAS = "attn_norm_bias"
    POST_ATTN_NORM = "post_attn_norm"  # gemma2/3, glm4 post_self_attn_layernorm, bert attention LayerNorm
    POST_ATTN_NORM_BIAS = "post_attn_norm_bias"
    Q = "q"  # [heads*head_dim, hidden]
    K = "k"  # [kv_heads*head_dim, hidden]
    V = "v"  # [kv_heads*head_dim, hidden]
    O = "o"  # [hidden, heads*head_dim]  # noqa: E741
    Q_BIAS = "q_bias"
    K_BIAS = "k_bias"
    V_BIAS = "v_bias"
    O_BIAS = "o_bias"
    Q_NORM = "q_norm"  # [head_dim] (qwen3, gemma3)
    K_NORM = "k_norm"
    # MLA (deepseek v2/v3)
    Q_A = "q_a"
    Q_A_NORM = "q_a_norm"
    Q_B = "q_b"
    KV_A = "kv_a"
    KV_A_NORM = "kv_a_norm"
    KV_B = "kv_b"
    # dense MLP
    MLP_NORM = "mlp_norm"  # post_attention_layernorm (pre-FFN in llama/qwen) [hidden]
    MLP_NORM_BIAS = "mlp_norm_bias"
    POST_MLP_NORM = "post_mlp_norm"  # gemma post_feedforward_layernorm, glm4 post_mlp_layernorm
    POST_MLP_NORM_BIAS = "post_mlp_norm_bias"  # bert output LayerNorm bias
    MLP_GATE = "mlp_gate"  # [intermediate, hidden]
    MLP_UP = "mlp_up"  # [intermediate, hidden]
    MLP_DOWN = "mlp_down"  # [hidden, intermediate]
    MLP_UP_BIAS = "mlp_up_bias"  # gpt2 / bert
    MLP_DOWN_BIAS = "mlp_down_bias"
    # mixture of experts (expert index carried separately)
    ROUTER = "router"  # [experts, hidden]
    ROUTER_BIAS = "router_bias"  # deepseek-v3 e_score_correction_bias [experts]
    ROUTER_SCALE = "router_scale"  # pangu pro moe mlp.router_scale [experts]
    EXPERT_GATE = "expert_gate"  # [moe_intermediate, hidden]
    EXPERT_UP = "expert_up"
    EXPERT_DOWN = "expert_down"  # [hidden, moe_intermediate]
    SHARED_GATE = "shared_gate"  # shared expert(s), concatenated if several
    SHARED_UP = "shared_up"
    SHARED_DOWN = "shared_down"
    SHARED_EXPERT_GATE = "shared_expert_gate"  # qwen2_moe scalar gate [1, hidden]


#: Roles holding a 1-D vector per layer (the elementwise `vectors` test reads these).
VECTOR_ROLES = frozenset(
    {
        Role.ATTN_NORM,
        Role.POST_ATTN_NORM,
        Role.MLP_NORM,
        Role.POST_MLP_NORM,
        Role.Q_BIAS,
        Role.K_BIAS,
        Role.V_BIAS,
        Role.O_BIAS,
        Role.Q_NORM,
        Role.K_NORM,
        Role.Q_A_NORM,
        Role.KV_A_NORM,
        Role.ATTN_NORM_BIAS,
        Role.MLP_NORM_BIAS,
        Role.POST_ATTN_NORM_BIAS,
        Role.POST_MLP_NORM_BIAS,
        Role.MLP_UP_BIAS,
        Role.MLP_DOWN_BIAS,
        Role.ROUTER_BIAS,
        Role.ROUTER_SCALE,
    }
)

#: Roles whose tensor exists once per model rather than per layer.
GLOBAL_ROLES = frozenset(
    {
        Role.EMBED,
        Role.POS_EMBED,
        Role.TYPE_EMBED,
        Role.EMBED_NORM,
        Role.EMBED_NORM_BIAS,
        Role.LM_HEAD,
        Role.FINAL_NORM,
        Role.FINAL_NORM_BIAS,
        Role.POOLER,
        Role.POOLER_BIAS,
    }
)

#: Roles that exist once per expert.
EXPERT_ROLES = frozenset({Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_DOWN})
