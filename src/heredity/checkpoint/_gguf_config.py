"""Turn GGUF metadata into a ``config.json``-style dict with Hugging Face keys.

GGUF keeps hyper-parameters under ``{arch}.<key>``; the layouts layer and ``inspect`` speak HF
(``num_hidden_layers``, ``hidden_size``, ...).  This module is the one translation table, plus the
facts about llama.cpp's conversion that later stages need (q/k rows permuted, Gemma norms stored
as ``1 + w``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# HF key -> GGUF key suffixes (after "{arch}."), first one present wins.
HF_FROM_GGUF: dict[str, tuple[str, ...]] = {
    "num_hidden_layers": ("block_count",),
    "hidden_size": ("embedding_length",),
    "intermediate_size": ("feed_forward_length",),
    "moe_intermediate_size": ("expert_feed_forward_length",),
    "num_attention_heads": ("attention.head_count",),
    "num_key_value_heads": ("attention.head_count_kv",),
    "head_dim": ("attention.key_length",),
    "num_experts": ("expert_count",),
    "num_experts_per_tok": ("expert_used_count",),
    "n_shared_experts": ("expert_shared_count",),
    "max_position_embeddings": ("context_length",),
    "rope_theta": ("rope.freq_base",),
    "rms_norm_eps": ("attention.layer_norm_rms_epsilon",),
    "layer_norm_eps": ("attention.layer_norm_epsilon",),
    "sliding_window": ("attention.sliding_window",),
    "vocab_size": ("vocab_size",),
}

# general.architecture -> HF model_type, where llama.cpp spells it differently.
MODEL_TYPE_FROM_ARCH = {
    "qwen2moe": "qwen2_moe",
    "qwen3moe": "qwen3_moe",
    "deepseek2": "deepseek_v3",
    "glm4moe": "glm4_moe",
    "pangu-embedded": "pangu",
}

# Architectures whose convert_hf_to_gguf class applies LlamaModel.permute to q/k rows
# (llama covers Mistral and Mixtral, which llama.cpp converts as "llama").
QK_PERMUTED_ARCHS = frozenset({"llama", "deci", "minicpm", "granite", "granitemoe", "bailingmoe"})

# Architectures whose converter stores RMSNorm weights as 1 + w (HF keeps w, adds 1 at run time).
NORM_PLUS_ONE_ARCHS = frozenset({"gemma", "gemma2", "gemma3", "gemma3n"})


def _first_scalar(value: Any) -> Any:
    """Per-layer arrays (e.g. head counts varying by layer) collapse to their largest value."""
    if isinstance(value, list):
        nums = [v for v in value if isinstance(v, int | float) and math.isfinite(v)]
        return max(nums) if nums else None
    return None if isinstance(value, float) and not math.isfinite(value) else value  # NaN/inf: no value


def synthesise_config(meta: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Any]:
    """Build the HF-style config from scalar metadata and tensor shapes (numpy order)."""
    arch = str(meta.get("general.architecture", "unknown"))
    config: dict[str, Any] = {
        "model_type": MODEL_TYPE_FROM_ARCH.get(arch, arch),
        "gguf_architecture": arch,
        "gguf_qk_permuted": arch in QK_PERMUTED_ARCHS,
        "gguf_norm_plus_one": arch in NORM_PLUS_ONE_ARCHS,
    }
    for hf_key, suffixes in HF_FROM_GGUF.items():
        for suffix in suffixes:
            value = _first_scalar(meta.get(f"{arch}.{suffix}"))
            if value is not None:
                config[hf_key] = value
                break
    _fill_from_shapes(config, shapes)
    _fill_aliases(config, meta, arch)
    config["gguf_metadata"] = dict(meta)
    return config


def _fill_from_shapes(config: dict[str, Any], shapes: Mapping[str, tuple[int, ...]]) -> None:
    """vocab_size and tied embeddings are not always in the metadata; the tensors tell."""
    embed = shapes.get("token_embd.weight")
    if embed is not None and "vocab_size" not in config:
        config["vocab_size"] = embed[0]
    config["tie_word_embeddings"] = embed is not None and "output.weight" not in shapes


def _fill_aliases(config: dict[str, Any], meta: Mapping[str, Any], arch: str) -> None:
    """Keys the brief's consumers look up under either name."""
    if "head_dim" not in config and config.get("num_attention_heads") and config.get("hidden_size"):
        config["head_dim"] = config["hidden_size"] // config["num_attention_heads"]
    config["key_length"] = config.get("head_dim")
    if "num_experts" in config:
        config["expert_count"] = config["num_experts"]
    name = meta.get("general.name")
    if isinstance(name, str):
        config["_name_or_path"] = name
    config["architectures"] = [f"gguf:{arch}"]
