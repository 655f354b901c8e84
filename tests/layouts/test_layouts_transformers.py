"""Our tables against the real names: tiny transformers models saved with save_pretrained (no download)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from heredity.layouts import Role, load_model

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

BASE = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2,
        "intermediate_size": 128, "vocab_size": 256}  # fmt: skip
MOE = {"num_experts_per_tok": 2, "moe_intermediate_size": 32}
DS = MOE | {"n_routed_experts": 4, "n_shared_experts": 1, "first_k_dense_replace": 1, "kv_lora_rank": 16,
            "qk_rope_head_dim": 8, "qk_nope_head_dim": 8, "v_head_dim": 16, "n_group": 2, "topk_group": 1}  # fmt: skip
CASES: dict[str, tuple[str, dict]] = {
    "llama": ("llama", {}),
    "mistral": ("mistral", {}),
    "qwen2": ("qwen2", {}),
    "qwen3": ("qwen3", {}),
    "qwen2_moe": ("qwen2_moe", MOE | {"num_experts": 4, "shared_expert_intermediate_size": 48}),
    "qwen3_moe": ("qwen3_moe", MOE | {"num_experts": 4}),
    "mixtral": ("mixtral", {"num_local_experts": 4, "num_experts_per_tok": 2}),
    "deepseek_v2": ("deepseek_v2", DS | {"q_lora_rank": None}),
    "deepseek_v3": ("deepseek_v3", DS | {"q_lora_rank": 32}),
    "gemma2": ("gemma2", {"head_dim": 16}),
    "gemma3": ("gemma3_text", {"head_dim": 16}),
    "glm4": ("glm4", {"pad_token_id": 0}),
    "glm4_moe": ("glm4_moe", DS | {"pad_token_id": 0}),
    "gpt2": ("gpt2", {"n_layer": 2, "n_embd": 64, "n_head": 4, "vocab_size": 256, "n_positions": 32}),
    "bert": ("bert", {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128,
                      "vocab_size": 256}),
}  # fmt: skip
MOE_FAMILIES = {"qwen2_moe", "qwen3_moe", "mixtral", "deepseek_v2", "deepseek_v3", "glm4_moe"}


def _save(family: str, folder: Path) -> object:
    model_type, extra = CASES[family]
    kwargs = extra if family in ("gpt2", "bert") else BASE | extra
    config = transformers.AutoConfig.for_model(model_type, **kwargs)
    auto = transformers.AutoModel if family == "bert" else transformers.AutoModelForCausalLM
    torch.manual_seed(0)
    model = auto.from_config(config)
    model.save_pretrained(folder)
    return model


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(CASES))
def test_real_names_map_without_unknowns(family: str, tmp_path: Path) -> None:
    from test_layouts_families import EXPECTED  # the roles each family's synthetic checkpoint has

    hf = _save(family, tmp_path)
    model = load_model(tmp_path)
    assert model.unknown == []
    assert model.spec.family == family
    assert (model.spec.layers, model.spec.hidden_size) == (2, 64)
    roles = set(model.role_counts())
    optional = {"lm_head", "pooler", "pooler_bias"}
    assert set(EXPECTED[family]) - optional <= roles <= set(EXPECTED[family]) | optional
    if family in MOE_FAMILIES:
        assert model.spec.experts == 4 and model.spec.experts_per_token == 2
    _check_values(family, model, hf)


def _check_values(family: str, model: object, hf: object) -> None:
    """The canonical tensors equal what transformers holds in memory (q of layer 1, embedding)."""
    state = {k: v.detach().float().numpy() for k, v in hf.state_dict().items()}  # type: ignore[attr-defined]
    embed = model.get(Role.EMBED)  # type: ignore[attr-defined]
    assert any(v.shape == embed.shape and np.array_equal(v, embed) for v in state.values())
    if family == "gpt2":
        c_attn = state["transformer.h.1.attn.c_attn.weight"].T
        assert np.array_equal(model.get(Role.K, 1), c_attn[64:128])  # type: ignore[attr-defined]
    elif family == "glm4":
        gate_up = state["model.layers.1.mlp.gate_up_proj.weight"]
        assert np.array_equal(model.get(Role.MLP_UP, 1), gate_up[128:])  # type: ignore[attr-defined]
    elif family in ("qwen3_moe", "mixtral"):
        fused = state[
            "model.layers.1.mlp.experts.gate_up_proj"
        ]  # transformers 5 keeps experts fused in memory
        assert np.array_equal(model.get(Role.EXPERT_UP, 1, 3), fused[3][fused.shape[1] // 2 :])  # type: ignore[attr-defined]
