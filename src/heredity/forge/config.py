"""The forge's model configuration: one dataclass, the per-family traits, and the HF config.json.

A :class:`ForgeConfig` describes a tiny decoder of one family.  The family decides the *names* and
the small architectural quirks (biases, q/k norms, sandwich norms, fused MLP, experts); the numbers
decide the size.  ``to_hf()`` writes the dict a real checkpoint of that family ships as
``config.json`` (so ``transformers`` can load what the forge saves) and ``from_hf()`` reads it back.
This module never imports torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from heredity.errors import InputError


@dataclass(frozen=True)
class Traits:
    """What a family does differently from llama (names are derived from these)."""

    architecture: str  # HF `architectures[0]`
    model_type: str  # HF `model_type`
    qkv_bias: bool = False  # q/k/v projections carry biases (qwen2, glm4, pangu)
    o_bias: bool = False  # o_proj carries a bias (pangu pro moe)
    qk_norm: bool = False  # RMSNorm over head_dim on q and k before RoPE (qwen3, gemma3)
    gemma_norm: bool = False  # stored norm weight w is applied as (1 + w); embeddings scaled by sqrt(hidden)
    sandwich: str = ""  # extra norms: "gemma" (pre/post feedforward) or "glm" (post self-attn / post mlp)
    fused_mlp: bool = False  # gate and up stored as one gate_up_proj (glm4)
    moe: str = ""  # "", "mixtral", "qwen2_moe" or "moge"
    act: str = "silu"  # MLP activation: "silu" or "gelu_tanh"
    rotary_fraction: float = 1.0  # share of head_dim that RoPE rotates (glm4: 0.5)
    interleaved_rope: bool = False  # RoPE pairs (2i, 2i+1) instead of (i, i + d/2) (glm4)
    tied: bool = False  # the family always ties lm_head to the embedding (gemma3)


FAMILIES: dict[str, Traits] = {
    "llama": Traits("LlamaForCausalLM", "llama"),
    "mistral": Traits("MistralForCausalLM", "mistral"),
    "qwen2": Traits("Qwen2ForCausalLM", "qwen2", qkv_bias=True),
    "qwen3": Traits("Qwen3ForCausalLM", "qwen3", qk_norm=True),
    "gemma3": Traits(
        "Gemma3ForCausalLM", "gemma3_text", qk_norm=True, gemma_norm=True, sandwich="gemma", act="gelu_tanh",
        tied=True,
    ),
    "glm4": Traits(
        "Glm4ForCausalLM", "glm4", qkv_bias=True, sandwich="glm", fused_mlp=True, rotary_fraction=0.5,
        interleaved_rope=True,
    ),
    "mixtral": Traits("MixtralForCausalLM", "mixtral", moe="mixtral"),
    "qwen2_moe": Traits("Qwen2MoeForCausalLM", "qwen2_moe", qkv_bias=True, moe="qwen2_moe"),
    "pangu_pro_moe": Traits("PanguProMoEForCausalLM", "PanguProMoE", qkv_bias=True, o_bias=True, moe="moge"),
}

#: old forge family names still accepted by :func:`preset` (the forge now names families as the layouts do)
RENAMED = {"pangu_moge": "pangu_pro_moe"}

#: HF model_type -> forge family name
_BY_MODEL_TYPE = {t.model_type: name for name, t in FAMILIES.items()}


@dataclass(frozen=True)
class ForgeConfig:
    """A tiny decoder-only LM.  Defaults: ~100K parameters, trains in a minute on 2 CPU cores."""

    family: str = "llama"  # key of FAMILIES
    vocab_size: int = 256  # byte-level tokenizer: one token per byte
    hidden_size: int = 64  # residual stream width
    num_layers: int = 2  # decoder blocks
    num_heads: int = 4  # query heads
    num_kv_heads: int = 2  # key/value heads (GQA when < num_heads)
    head_dim: int = 16  # per-head width (num_heads * head_dim need not equal hidden_size)
    intermediate_size: int = 128  # dense MLP width (mixtral: each expert's width)
    num_experts: int = 0  # routed experts per MoE layer (0 = dense)
    experts_per_tok: int = 0  # experts each token activates (MoGE: across all groups)
    expert_groups: int = 1  # MoGE groups; experts_per_tok / expert_groups experts per group per token
    moe_intermediate_size: int = 0  # width of each routed expert (qwen2_moe, moge)
    shared_intermediate_size: int = 0  # width of the shared expert (qwen2_moe, moge; 0 = none)
    rope_theta: float = 10000.0  # RoPE base (gemma3: the global layers' base)
    rope_local_theta: float = 10000.0  # gemma3 sliding-window layers' RoPE base
    rms_eps: float = 1e-6  # RMSNorm epsilon
    tie_embeddings: bool = False  # lm_head shares the embedding matrix
    max_seq_len: int = 256  # longest context trained / evaluated

    def __post_init__(self) -> None:
        assert self.family in FAMILIES, f"unknown family {self.family}"
        assert self.num_heads % self.num_kv_heads == 0, "GQA needs heads divisible by kv heads"
        assert self.head_dim % 2 == 0
        if self.traits.moe:
            assert 0 < self.experts_per_tok <= self.num_experts, "MoE needs 0 < experts_per_tok <= experts"
        if self.traits.moe == "moge":
            assert self.num_experts % self.expert_groups == 0, "experts must split into equal groups"
            assert self.experts_per_tok % self.expert_groups == 0, "each group must take the same count"

    @property
    def traits(self) -> Traits:
        return FAMILIES[self.family]

    @property
    def tied(self) -> bool:
        return self.tie_embeddings or self.traits.tied

    @property
    def expert_width(self) -> int:
        """Width of one routed expert."""
        return self.intermediate_size if self.traits.moe == "mixtral" else self.moe_intermediate_size

    def layer_is_sliding(self, layer: int) -> bool:
        """gemma3 interleaves 5 sliding-window layers with 1 global one; the last layer is global here."""
        return self.traits.sandwich == "gemma" and (layer + 1) % 6 != 0 and layer != self.num_layers - 1

    def with_(self, **changes: Any) -> ForgeConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_hf(self) -> dict[str, Any]:
        """The family's config.json."""
        from heredity.forge.hf_config import to_hf

        return to_hf(self)

    @staticmethod
    def from_hf(config: dict[str, Any], path: object = None) -> ForgeConfig:
        from heredity.forge.hf_config import from_hf

        return from_hf(config, path)


def family_of(config: dict[str, Any], path: object = None) -> str:
    """Forge family name for an HF config dict, or an InputError naming the file."""
    family = _BY_MODEL_TYPE.get(str(config.get("model_type", "")))
    if family is None:
        raise InputError(
            f"the forge cannot build model_type {config.get('model_type')!r}",
            path=path,
            fix=f"use one of: {', '.join(sorted(_BY_MODEL_TYPE))}",
        )
    return family


def preset(family: str, size: str = "tiny") -> ForgeConfig:
    """A sensible tiny configuration for each family (``size``: "tiny" or "small")."""
    family = RENAMED.get(family, family)
    if family not in FAMILIES:
        raise InputError(f"unknown family {family!r}", fix=f"use one of: {', '.join(FAMILIES)}")
    size_kw: dict[str, Any] = {}
    if size == "small":
        size_kw = dict(hidden_size=96, num_layers=3, num_heads=6, num_kv_heads=2, intermediate_size=192)
    width = int(size_kw.get("intermediate_size", 128))
    return ForgeConfig(family=family, **{**size_kw, **_family_preset(family, width)})


def _family_preset(family: str, width: int) -> dict[str, Any]:
    """Expert counts and widths per family (dense width ``width``)."""
    moe = FAMILIES[family].moe
    if moe == "mixtral":
        return dict(num_experts=4, experts_per_tok=2, intermediate_size=width // 2)
    if moe == "qwen2_moe":
        return dict(num_experts=8, experts_per_tok=2, moe_intermediate_size=width // 4,
                    shared_intermediate_size=width // 2)
    if moe == "moge":
        return dict(num_experts=8, experts_per_tok=4, expert_groups=4, moe_intermediate_size=width // 4,
                    shared_intermediate_size=width // 2)
    if family == "gemma3":
        return dict(rope_theta=1_000_000.0, tie_embeddings=True)
    return {}
