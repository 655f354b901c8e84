"""The forge's tensor names and config.json are the real ones: transformers loads what it saves
and computes the same logits.  Pangu Pro MoE is not in transformers; its names are checked
against the published vLLM-Ascend loader's (mlp.gate, mlp.experts.N.*_proj, mlp.shared_expert.*,
mlp.router_scale of shape (1, E), biases on q/k/v and o)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from heredity.forge.config import ForgeConfig, preset  # noqa: E402
from heredity.forge.io import load_model, save_model  # noqa: E402
from heredity.forge.modeling import ForgeLM, build  # noqa: E402

SHIPPED = ["llama", "mistral", "qwen2", "qwen3", "gemma3", "glm4", "mixtral", "qwen2_moe"]


def _jitter_vectors(model: ForgeLM, seed: int) -> ForgeLM:
    """Make norms and biases non-trivial so a wrong (1 + w) or a dropped bias shows in the logits."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1 or "router_scale" in name:
                p.add_(torch.randn(p.shape, generator=g) * 0.2)
    return model


def _hf_logits(folder: Path, idx: torch.Tensor) -> torch.Tensor:
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.no_grad():
        return hf(idx).logits


@pytest.mark.parametrize("family", SHIPPED)
def test_transformers_loads_forge_checkpoint_with_same_logits(family: str, tmp_path: Path) -> None:
    cfg = preset(family)
    model = _jitter_vectors(build(cfg, seed=3), seed=4).eval()
    save_model(model, tmp_path)
    idx = torch.randint(0, cfg.vocab_size, (2, 21), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ours = model(idx)
    theirs = _hf_logits(tmp_path, idx)
    assert ours.shape == theirs.shape
    assert torch.allclose(ours, theirs, atol=1e-4), float((ours - theirs).abs().max())


def test_sharded_save_loads_in_transformers_and_forge(tmp_path: Path) -> None:
    model = _jitter_vectors(build(preset("qwen2"), seed=1), seed=2).eval()
    save_model(model, tmp_path, max_shard_bytes=40_000)
    assert (tmp_path / "model.safetensors.index.json").is_file()
    assert len(list(tmp_path.glob("model-*.safetensors"))) > 1
    idx = torch.arange(16)[None, :]
    with torch.no_grad():
        ours, back = model(idx), load_model(tmp_path)(idx)
    assert torch.equal(ours, back)
    assert torch.allclose(ours, _hf_logits(tmp_path, idx), atol=1e-4)


def test_pangu_pro_moe_names_match_the_published_loader(tmp_path: Path) -> None:
    cfg = preset("pangu_pro_moe")
    names = set(build(cfg).state_dict())
    p = "model.layers.0."
    expected = {
        f"{p}mlp.gate.weight", f"{p}mlp.router_scale", f"{p}mlp.experts.7.gate_proj.weight",
        f"{p}mlp.experts.7.up_proj.weight", f"{p}mlp.experts.7.down_proj.weight",
        f"{p}mlp.shared_expert.gate_proj.weight", f"{p}mlp.shared_expert.down_proj.weight",
        f"{p}self_attn.o_proj.bias", f"{p}self_attn.q_proj.bias", f"{p}self_attn.v_proj.bias",
        f"{p}input_layernorm.weight", f"{p}post_attention_layernorm.weight", "lm_head.weight", "model.norm.weight",
    }
    assert expected <= names
    assert not any("shared_expert_gate" in n for n in names)  # Qwen2-MoE has one, Pangu does not
    assert tuple(build(cfg).state_dict()[f"{p}mlp.router_scale"].shape) == (1, cfg.num_experts)
    save_model(build(cfg), tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["architectures"] == ["PanguProMoEForCausalLM"]
    assert config["num_experts"] == 8 and config["num_experts_per_tok"] == 4
    assert "moe_intermediate_size" in config and "shared_expert_intermediate_size" in config


@pytest.mark.parametrize("family", [*SHIPPED, "pangu_pro_moe"])
def test_hf_config_round_trips(family: str) -> None:
    cfg = preset(family, "small")
    assert ForgeConfig.from_hf(cfg.to_hf()) == cfg


def test_saved_folder_reloads_bit_exact(tmp_path: Path) -> None:
    model = build(preset("glm4"), seed=9)
    save_model(model, tmp_path)
    back = load_model(tmp_path)
    for k, v in model.state_dict().items():
        assert np.array_equal(v.numpy(), back.state_dict()[k].numpy()), k
