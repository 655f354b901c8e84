"""Every family: synthetic checkpoint with real names -> load_model -> the spec and roles we expect."""

from __future__ import annotations

import numpy as np
import pytest

from heredity.layouts import Role, load_model
from heredity.layouts.expand import canonical_shape
from heredity.layouts.registry import family_names
from heredity.synth import make_checkpoint

DENSE_ATTN = {"attn_norm": 2, "q": 2, "k": 2, "v": 2, "o": 2, "mlp_norm": 2}
SWIGLU = {"mlp_gate": 2, "mlp_up": 2, "mlp_down": 2}
HEAD = {"embed": 1, "final_norm": 1, "lm_head": 1}
QKV_BIAS = {"q_bias": 2, "k_bias": 2, "v_bias": 2}
# two layers, four experts of which two per token; MoE families with first_k_dense_replace get 1 dense layer
MOE4 = {"router": 2, "expert_gate": 8, "expert_up": 8, "expert_down": 8}
MOE4_1 = {"router": 1, "expert_gate": 4, "expert_up": 4, "expert_down": 4}
SHARED2 = {"shared_gate": 2, "shared_up": 2, "shared_down": 2}
SHARED1 = {"shared_gate": 1, "shared_up": 1, "shared_down": 1}
DENSE1 = {"mlp_gate": 1, "mlp_up": 1, "mlp_down": 1}
MLA_V3 = {"q_a": 2, "q_a_norm": 2, "q_b": 2, "kv_a": 2, "kv_a_norm": 2, "kv_b": 2, "o": 2}
MLA_V2 = {"q": 2, "kv_a": 2, "kv_a_norm": 2, "kv_b": 2, "o": 2}
NORMS = {"attn_norm": 2, "mlp_norm": 2}
GEMMA_NORMS = {"post_attn_norm": 2, "post_mlp_norm": 2}

EXPECTED: dict[str, dict[str, int]] = {
    "llama": HEAD | DENSE_ATTN | SWIGLU,
    "mistral": HEAD | DENSE_ATTN | SWIGLU,
    "qwen2": HEAD | DENSE_ATTN | SWIGLU | QKV_BIAS,
    "qwen3": HEAD | DENSE_ATTN | SWIGLU | {"q_norm": 2, "k_norm": 2},
    "gemma2": HEAD | DENSE_ATTN | SWIGLU | GEMMA_NORMS,
    "gemma3": HEAD | DENSE_ATTN | SWIGLU | GEMMA_NORMS | {"q_norm": 2, "k_norm": 2},
    "glm4": HEAD | DENSE_ATTN | SWIGLU | QKV_BIAS | GEMMA_NORMS,
    "qwen2_moe": HEAD | DENSE_ATTN | QKV_BIAS | MOE4 | SHARED2 | {"shared_expert_gate": 2},
    "qwen3_moe": HEAD | DENSE_ATTN | MOE4 | {"q_norm": 2, "k_norm": 2},
    "mixtral": HEAD | DENSE_ATTN | MOE4,
    "pangu_pro_moe": HEAD | DENSE_ATTN | QKV_BIAS | MOE4 | SHARED2 | {"o_bias": 2, "router_scale": 2},
    "deepseek_v2": HEAD | NORMS | MLA_V2 | DENSE1 | MOE4_1 | SHARED1,
    "deepseek_v3": HEAD | NORMS | MLA_V3 | DENSE1 | MOE4_1 | SHARED1 | {"router_bias": 1},
    "glm4_moe": HEAD | DENSE_ATTN | DENSE1 | MOE4_1 | SHARED1 | {"router_bias": 1},
    "gpt2": {"embed": 1, "pos_embed": 1, "final_norm": 1, "final_norm_bias": 1, "attn_norm_bias": 2, "o_bias": 2,
             "mlp_norm_bias": 2, "mlp_up_bias": 2, "mlp_down_bias": 2, "mlp_up": 2, "mlp_down": 2}
    | DENSE_ATTN | QKV_BIAS,
    "bert": {"embed": 1, "pos_embed": 1, "type_embed": 1, "embed_norm": 1, "embed_norm_bias": 1, "pooler": 1,
             "pooler_bias": 1, "q": 2, "k": 2, "v": 2, "o": 2, "o_bias": 2, "post_attn_norm": 2,
             "post_attn_norm_bias": 2, "mlp_up": 2, "mlp_up_bias": 2, "mlp_down": 2, "mlp_down_bias": 2,
             "post_mlp_norm": 2, "post_mlp_norm_bias": 2} | QKV_BIAS,
    "gguf": HEAD | DENSE_ATTN | SWIGLU,
}  # fmt: skip
MOE = {"qwen2_moe", "qwen3_moe", "mixtral", "pangu_pro_moe", "deepseek_v2", "deepseek_v3", "glm4_moe"}
MHA = {"gpt2", "bert"}  # no GQA: kv_heads == heads


def test_every_family_has_expectations() -> None:
    assert sorted(EXPECTED) == sorted(family_names())


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_synth_roundtrip_roles_and_spec(family: str) -> None:
    model = load_model(make_checkpoint(family, seed=3))
    assert model.unknown == []
    assert model.role_counts() == EXPECTED[family]
    spec = model.spec
    reported = "llama" if family == "gguf" else family  # GGUF names report their architecture
    assert (spec.family, spec.layers, spec.hidden_size, spec.vocab_size) == (reported, 2, 64, 256)
    assert (spec.heads, spec.kv_heads) == ((4, 4) if family in MHA else (4, 2))
    assert spec.head_dim == 16
    assert spec.inferred is False
    if family in MOE:
        assert (spec.experts, spec.experts_per_token, spec.moe_intermediate_size) == (4, 2, 64)
    else:
        assert spec.experts is None and spec.intermediate_size == 128


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_canonical_shapes_are_out_in(family: str) -> None:
    model = load_model(make_checkpoint(family, seed=1))
    hidden = 64
    for ref in model.refs:
        w = model.load(ref)
        assert w.shape == canonical_shape(ref, model.checkpoint.info(ref.name).shape)
        if ref.role in (Role.Q, Role.K, Role.V, Role.MLP_UP, Role.MLP_GATE, Role.EXPERT_UP, Role.ROUTER):
            assert w.shape[1] == hidden, (ref, w.shape)
        if ref.role in (Role.O, Role.MLP_DOWN, Role.EXPERT_DOWN, Role.SHARED_DOWN):
            assert w.shape[0] == hidden, (ref, w.shape)
        if ref.role in (Role.EMBED, Role.LM_HEAD):
            assert w.shape == (256, hidden)


def test_moe_spec_fields_from_config() -> None:
    spec = load_model(make_checkpoint("deepseek_v3", experts=8, experts_per_token=2, expert_groups=4)).spec
    assert (spec.experts, spec.expert_groups, spec.shared_experts, spec.intermediate_size) == (8, 4, 1, 128)
    pangu = load_model(make_checkpoint("pangu_pro_moe", experts=16, experts_per_token=4)).spec
    assert (pangu.experts, pangu.expert_groups, pangu.experts_per_token, pangu.shared_experts) == (
        16,
        4,
        4,
        1,
    )


def test_seed_determines_everything() -> None:
    a, b, c = (make_checkpoint("qwen2", seed=s) for s in (5, 5, 6))
    assert a.config == b.config
    for name in a.arrays:
        assert np.array_equal(a.arrays[name], b.arrays[name])
    assert not np.array_equal(a.arrays["model.embed_tokens.weight"], c.arrays["model.embed_tokens.weight"])


def test_norms_are_not_constant() -> None:
    model = load_model(make_checkpoint("llama"))
    norm = model.get(Role.ATTN_NORM, 0)
    assert norm.std() > 0.005 and abs(norm.mean() - 1.0) < 0.05


def test_tied_embeddings() -> None:
    model = load_model(make_checkpoint("llama", tie_embeddings=True))
    assert model.spec.tied_embeddings and not model.has(Role.LM_HEAD)
    assert load_model(make_checkpoint("llama")).spec.tied_embeddings is False
    assert load_model(make_checkpoint("bert")).spec.tied_embeddings is False  # an encoder has no head to tie


def test_model_type_aliases_resolve() -> None:
    assert make_checkpoint("gemma3_text").config["model_type"] == "gemma3_text"
    assert load_model(make_checkpoint("Qwen2ForCausalLM")).spec.family == "qwen2"


def test_gguf_moe_synth_uses_fused_expert_tensors() -> None:
    ck = make_checkpoint("gguf", experts=4, experts_per_token=2)
    assert ck.arrays["blk.1.ffn_up_exps.weight"].shape == (4, 64, 64)
    assert "blk.1.ffn_up.weight" not in ck.arrays
    model = load_model(ck)
    assert model.unknown == [] and (model.spec.experts, model.spec.moe_intermediate_size) == (4, 64)
    assert model.role_counts()["expert_up"] == 8 and model.role_counts()["router"] == 2
    assert np.array_equal(model.get(Role.EXPERT_DOWN, 1, 3), ck.arrays["blk.1.ffn_down_exps.weight"][3])
