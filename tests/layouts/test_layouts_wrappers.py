"""Wrapped checkpoints: a family's names under a wrapper prefix map to its table, the prefix is found
(not listed), ``inspect`` names it, and a multimodal checkpoint's other towers become components."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from heredity.checkpoint.base import MemoryCheckpoint
from heredity.checkpoint.writers import save_hf_folder
from heredity.inspect import inspect_model
from heredity.layouts import Role, load_model
from heredity.layouts.registry import get_layout
from heredity.report.inspect_render import render_text
from heredity.synth import make_checkpoint


def _wrapped(family: str, prefix: str, seed: int = 1, bare: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """A synthetic model's arrays with every name under ``prefix`` (names in ``bare`` stay at the top)."""
    arrays = make_checkpoint(family, seed=seed).arrays
    return {(n if n in bare else prefix + n): a for n, a in arrays.items()}


def _save(tmp_path: Path, arrays: dict[str, np.ndarray], config: dict[str, Any] | None = None) -> Path:
    folder = tmp_path / "model"
    save_hf_folder(arrays, config or {}, folder)
    if config is None:
        (folder / "config.json").unlink(missing_ok=True)
    return folder


@pytest.mark.parametrize(
    ("family", "prefix"),
    [
        ("bert", "0.auto_model."),  # a SentenceTransformer's state_dict (module 0 is the Transformer)
        ("bert", "model.0.auto_model."),  # the same model exported to ONNX by sentence-transformers
        ("llama", "language_model."),  # LLaVA-style: language_model.model.layers..., language_model.lm_head
        ("qwen2", "base_model.model."),  # PEFT PeftModel.state_dict()
        ("mistral", "module."),  # DistributedDataParallel
        ("qwen3", "_orig_mod."),  # torch.compile
        ("llama", "_orig_mod.module."),  # both
        ("qwen2_moe", "transformer."),
    ],
)
@pytest.mark.parametrize("with_config", [True, False])
def test_wrapped_names_map_like_the_bare_model(
    tmp_path: Path, family: str, prefix: str, with_config: bool
) -> None:
    ck = make_checkpoint(family, seed=1)
    config = ck.config if with_config else None
    bare = load_model(MemoryCheckpoint(ck.arrays, config or {}))  # without a config, names decide alike
    model = load_model(_save(tmp_path, _wrapped(family, prefix), config))
    assert model.spec.family == bare.spec.family and model.prefix == prefix
    assert model.spec.family == family or not with_config
    assert model.unknown == [] and model.components == ()
    assert model.role_counts() == bare.role_counts()
    assert (model.spec.layers, model.spec.hidden_size) == (bare.spec.layers, bare.spec.hidden_size)
    ref = model.ref(bare.refs[5].role, bare.refs[5].layer, bare.refs[5].expert)
    assert ref.name == prefix + bare.refs[5].name
    np.testing.assert_array_equal(model.load(ref), bare.load(bare.refs[5]))


def test_bare_checkpoints_report_no_prefix(tmp_path: Path) -> None:
    for family in ("llama", "gpt2", "gemma3", "deepseek_v3"):
        ck = make_checkpoint(family, seed=2)
        model = load_model(_save(tmp_path / family, ck.arrays, ck.config))
        assert (model.prefix, model.components) == ("", ()), family
        assert inspect_model(model).to_dict()["prefix_stripped"] is None


def _vision_tower(layers: int) -> dict[str, np.ndarray]:
    """A SigLIP-like tower with more layers than the language model (so inference would be wrong)."""
    rng = np.random.default_rng(0)
    out = {}
    for i in range(layers):
        for leaf in (
            "self_attn.q_proj.weight",
            "self_attn.k_proj.weight",
            "mlp.fc1.weight",
            "layer_norm1.weight",
        ):
            shape = (8,) if leaf.endswith("norm1.weight") else (8, 8)
            out[f"model.vision_tower.vision_model.encoder.layers.{i}.{leaf}"] = rng.standard_normal(shape)
    out["model.vision_tower.vision_model.post_layernorm.weight"] = rng.standard_normal(8)
    out["model.multi_modal_projector.mm_input_projection_weight"] = rng.standard_normal((8, 64))
    return {k: v.astype(np.float32) for k, v in out.items()}


def test_multimodal_language_model_is_mapped_and_towers_are_components(tmp_path: Path) -> None:
    text = make_checkpoint("gemma3", seed=3)
    arrays = {
        ("model.language_model." + n if n.startswith("model.") else n): a for n, a in text.arrays.items()
    }
    arrays |= _vision_tower(layers=5)
    config = {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
              "text_config": {k: v for k, v in text.config.items() if k not in ("architectures", "model_type")},
              "vision_config": {"hidden_size": 8, "num_hidden_layers": 5}}  # fmt: skip
    model = load_model(_save(tmp_path, arrays, config))
    bare = load_model(text)
    assert model.spec.family == "gemma3" and model.prefix == "model.language_model."
    assert (
        model.role_counts() == bare.role_counts() and model.spec.layers == 2
    )  # the tower's 5 layers stay out
    assert model.has(bare.refs[2].role) and model.unknown == []
    components = {c.prefix: len(c.names) for c in model.components}
    assert components == {"model.vision_tower.": 21, "model.multi_modal_projector.": 1}
    doc = inspect_model(model).to_dict()
    assert doc["prefix_stripped"] == "model.language_model."
    assert doc["components"] == [
        {"prefix": "model.vision_tower.", "tensors": 21, "params": 5 * (3 * 64 + 8) + 8},
        {"prefix": "model.multi_modal_projector.", "tensors": 1, "params": 8 * 64},
    ]
    assert doc["params"] == sum(a.size for a in arrays.values())  # towers are still the checkpoint's weights
    text_out = render_text(inspect_model(model))
    assert "wrapper prefix stripped: model.language_model." in text_out
    assert "model.vision_tower.  21 tensors" in text_out


def test_llava_style_towers_beside_the_language_model(tmp_path: Path) -> None:
    arrays = _wrapped("llama", "language_model.", seed=4)
    arrays |= {k.removeprefix("model."): v for k, v in _vision_tower(layers=3).items()}
    model = load_model(_save(tmp_path, arrays))
    assert (model.spec.family, model.prefix, model.spec.layers) == ("llama", "language_model.", 2)
    assert {c.prefix for c in model.components} == {"vision_tower.", "multi_modal_projector."}


def test_sentence_transformers_dense_head_is_a_component(tmp_path: Path) -> None:
    arrays = _wrapped("bert", "0.auto_model.", seed=5)
    arrays["0.auto_model.embeddings.position_ids"] = np.arange(16, dtype=np.float32)[None]  # a buffer
    arrays["2.linear.weight"] = np.ones((4, 64), np.float32)  # a Dense module after pooling
    model = load_model(_save(tmp_path, arrays))
    assert (model.spec.family, model.prefix, model.unknown) == ("bert", "0.auto_model.", [])
    assert [(c.prefix, c.names) for c in model.components] == [("2.linear.", ("2.linear.weight",))]


def test_a_stray_match_is_not_a_wrapper(tmp_path: Path) -> None:
    """One tensor that happens to match under a deep prefix (DeepSeek-V3's MTP ``shared_head.norm``)
    must not turn the whole model into a component."""
    arrays = make_checkpoint("llama", seed=6).arrays
    arrays["model.layers.9.shared_head.norm.weight"] = np.ones(64, np.float32)
    model = load_model(_save(tmp_path, arrays))
    assert model.prefix == "" and model.components == ()


# -- big inventories: correctness at DeepSeek-V3 scale (timing is benchmarks/inventory.py's job) --------


def _header_only(path: Path, names: list[tuple[str, tuple[int, ...]]], config: dict[str, Any]) -> None:
    header: dict[str, Any] = {}
    offset = 0
    for name, shape in names:
        n = 2 * math.prod(shape)
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + offset)
    (path.parent / "config.json").write_text(json.dumps(config))


def test_deepseek_v3_scale_inventory_maps_every_expert(tmp_path: Path) -> None:
    layers, experts, dense = 61, 256, 3
    layout = get_layout("deepseek_v3")
    names: list[tuple[str, tuple[int, ...]]] = []
    for e in layout.entries:
        if not e.in_synth or e.fused_experts:
            continue
        shape = (8,) if "norm" in e.name or "bias" in e.name else (4, 8)
        if not e.per_layer:
            names.append((e.name, shape))
            continue
        for i in range(layers):
            if (e.moe and i < dense) or (e.dense and i >= dense):
                continue
            for x in range(experts) if e.per_expert else [None]:
                name = e.name.replace("{layer}", str(i))
                names.append((name if x is None else name.replace("{expert}", str(x)), shape))
    scales = [(n.replace(".weight", ".weight_scale_inv"), (1, 1)) for n, s in names if len(s) == 2]
    config = {"architectures": ["DeepseekV3ForCausalLM"], "num_hidden_layers": layers, "n_routed_experts": experts,
              "first_k_dense_replace": dense, "num_nextn_predict_layers": 0}  # fmt: skip
    _header_only(tmp_path / "m" / "model.safetensors", names + scales, config)
    model = load_model(tmp_path / "m")
    assert len(model.checkpoint.tensors) == len(names) + len(scales) > 90_000
    assert (model.spec.family, model.spec.layers, model.spec.experts, model.prefix) == (
        "deepseek_v3",
        61,
        256,
        "",
    )
    assert model.role_counts()["expert_down"] == (layers - dense) * experts
    assert sorted(model.unknown) == sorted(n for n, _ in scales)  # fp8 scales: not weights of a role
    ref = model.ref(Role.EXPERT_DOWN, 60, 255)
    assert ref.name.startswith("model.layers.60.mlp.experts.255.")
