"""ForgeConfig <-> the config.json a real checkpoint of each family ships.

Keys follow the published configs of each family (the same spelling ``transformers`` reads), so a
forged folder loads with ``AutoModelForCausalLM.from_pretrained`` for the families it ships.
"""

from __future__ import annotations

from typing import Any

from heredity.errors import InputError
from heredity.forge.config import ForgeConfig, family_of


def _common(cfg: ForgeConfig) -> dict[str, Any]:
    t = cfg.traits
    return {
        "architectures": [t.architecture],
        "model_type": t.model_type,
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_layers,
        "num_attention_heads": cfg.num_heads,
        "num_key_value_heads": cfg.num_kv_heads,
        "head_dim": cfg.head_dim,
        "max_position_embeddings": cfg.max_seq_len,
        "rms_norm_eps": cfg.rms_eps,
        "rope_theta": cfg.rope_theta,
        "tie_word_embeddings": cfg.tied,
        "hidden_act": "silu",
        "initializer_range": 0.02,
        "attention_dropout": 0.0,
        "use_cache": False,
        "torch_dtype": "float32",
        "bos_token_id": None,
        "eos_token_id": None,
        "pad_token_id": None,
    }


def _family_keys(cfg: ForgeConfig) -> dict[str, Any]:
    """Keys only some families have."""
    fam, e = cfg.family, cfg.num_experts
    if fam in ("llama", "qwen3"):
        return {"attention_bias": False, "mlp_bias": False} if fam == "llama" else {"attention_bias": False}
    if fam == "mistral":
        return {"sliding_window": None}
    if fam == "qwen2":
        return {"use_sliding_window": False, "sliding_window": None}
    if fam == "glm4":
        return {"attention_bias": True, "partial_rotary_factor": 0.5}
    if fam == "gemma3":
        return _gemma3_keys(cfg)
    if fam == "mixtral":
        return {"num_local_experts": e, "num_experts_per_tok": cfg.experts_per_tok, "router_jitter_noise": 0.0,
                "output_router_logits": False, "sliding_window": None}
    shared = {"num_experts": e, "num_experts_per_tok": cfg.experts_per_tok,
              "moe_intermediate_size": cfg.moe_intermediate_size,
              "shared_expert_intermediate_size": cfg.shared_intermediate_size}
    if fam == "qwen2_moe":
        return {**shared, "norm_topk_prob": False, "decoder_sparse_step": 1, "mlp_only_layers": [],
                "use_sliding_window": False, "sliding_window": None, "output_router_logits": False}
    return {**shared, "num_expert_groups": cfg.expert_groups}  # pangu_pro_moe


def _gemma3_keys(cfg: ForgeConfig) -> dict[str, Any]:
    types = ["sliding_attention" if cfg.layer_is_sliding(i) else "full_attention" for i in range(cfg.num_layers)]
    return {
        "hidden_activation": "gelu_pytorch_tanh",
        "hidden_act": "gelu_pytorch_tanh",
        "query_pre_attn_scalar": cfg.head_dim,
        "sliding_window": max(cfg.max_seq_len, 512),
        "layer_types": types,
        "rope_local_base_freq": cfg.rope_local_theta,
        "final_logit_softcapping": None,
        "attn_logit_softcapping": None,
        "attention_bias": False,
    }


def to_hf(cfg: ForgeConfig) -> dict[str, Any]:
    return {**_common(cfg), **_family_keys(cfg)}


def _get(config: dict[str, Any], key: str, path: object, default: Any = None) -> Any:
    if key in config:
        return config[key]
    if default is None:
        raise InputError(f"config.json lacks '{key}'", path=path, fix="write the config with heredity forge")
    return default


MAX_FORGE_PARAMS = 200_000_000  # the forge builds models in memory on a CPU; refuse anything bigger


def from_hf(config: dict[str, Any], path: object = None) -> ForgeConfig:
    """Inverse of :func:`to_hf` (also accepts real configs of these families, if small).  A config
    that is malformed, inconsistent or too large to build is an InputError naming the file."""
    try:
        cfg = _from_hf(config, path)
    except (TypeError, ValueError, AssertionError) as exc:
        raise InputError(f"config.json is not a usable forge config ({exc})", path=path,
                         fix="use a folder written by heredity forge") from None
    if estimate_params(cfg) > MAX_FORGE_PARAMS:
        raise InputError(f"model of ~{estimate_params(cfg):,} parameters is too large for the forge", path=path,
                         fix="the forge builds tiny models; use heredity compare on large ones")
    return cfg


def estimate_params(cfg: ForgeConfig) -> int:
    """Rough parameter count (checked before anything is allocated)."""
    C, D = cfg.hidden_size, cfg.head_dim
    attn = C * D * (2 * cfg.num_heads + 2 * cfg.num_kv_heads)
    experts = max(cfg.num_experts, 1) * 3 * C * max(cfg.expert_width, cfg.intermediate_size)
    shared = 3 * C * cfg.shared_intermediate_size
    return cfg.num_layers * (attn + experts + shared) + 2 * cfg.vocab_size * C


def _from_hf(config: dict[str, Any], path: object) -> ForgeConfig:
    family = family_of(config, path)
    heads = int(_get(config, "num_attention_heads", path))
    hidden = int(_get(config, "hidden_size", path))
    experts = int(config.get("num_local_experts", config.get("num_experts", 0)) or 0)
    per_tok = int(config.get("num_experts_per_tok", 0) or 0) if experts else 0
    # Pangu Pro MoE's released config has no group count: it routes top-1 in each of K groups
    groups = int(config.get("num_expert_groups") or (per_tok if family == "pangu_pro_moe" else 1))
    return ForgeConfig(
        family=family,
        vocab_size=int(_get(config, "vocab_size", path)),
        hidden_size=hidden,
        num_layers=int(_get(config, "num_hidden_layers", path)),
        num_heads=heads,
        num_kv_heads=int(config.get("num_key_value_heads") or heads),
        head_dim=int(config.get("head_dim") or hidden // heads),
        intermediate_size=int(_get(config, "intermediate_size", path)),
        num_experts=experts,
        experts_per_tok=per_tok,
        expert_groups=groups,
        moe_intermediate_size=int(config.get("moe_intermediate_size", 0) or 0),
        shared_intermediate_size=int(config.get("shared_expert_intermediate_size", 0) or 0),
        rope_theta=float(config.get("rope_theta", 10000.0)),
        rope_local_theta=float(config.get("rope_local_base_freq", 10000.0)),
        rms_eps=float(config.get("rms_norm_eps", 1e-6)),
        tie_embeddings=bool(config.get("tie_word_embeddings", False)),
        max_seq_len=int(config.get("max_position_embeddings", 256)),
    )
