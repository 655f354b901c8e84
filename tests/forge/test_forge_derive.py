"""Derivations: the function-preserving ones keep the logits; the others change the weights in
the way their name says (low rank, fewer layers, fewer channels, merged, renamed, quantised)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from heredity.errors import InputError  # noqa: E402
from heredity.forge.config import FAMILIES, preset  # noqa: E402
from heredity.forge.data import load_corpus  # noqa: E402
from heredity.forge.derive import merge, obfuscate, prune, rename, rescale, upcycle  # noqa: E402
from heredity.forge.derive.finetune import finetune  # noqa: E402
from heredity.forge.derive.lora import lora  # noqa: E402
from heredity.forge.derive.names import Arrays  # noqa: E402
from heredity.forge.io import from_arrays, to_arrays  # noqa: E402
from heredity.forge.modeling import build  # noqa: E402

IDX = torch.randint(0, 256, (2, 24), generator=torch.Generator().manual_seed(0))


def _model(family: str, seed: int = 1) -> tuple[Arrays, dict]:  # type: ignore[type-arg]
    """A model with non-trivial norms, biases and router scales (as after training)."""
    m = build(preset(family), seed)
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.ndim == 1 or "router_scale" in name:
                p.add_(torch.randn(p.shape, generator=g) * 0.2)
    return to_arrays(m), m.cfg.to_hf()


def _logits(arrays: Arrays, config: dict) -> torch.Tensor:  # type: ignore[type-arg]
    with torch.no_grad():
        return from_arrays(arrays, config)(IDX)


def _changed_count(a: Arrays, b: Arrays) -> int:
    return sum(not np.array_equal(a[k], b[k]) for k in a if k in b)


OBFUSCATIONS = [obfuscate.permute_hidden, obfuscate.permute_neurons, obfuscate.permute_heads, obfuscate.permute_all,
                rescale.rescale]


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("fn", OBFUSCATIONS, ids=lambda f: f.__name__)
def test_obfuscations_keep_the_function_and_change_the_weights(family: str, fn) -> None:  # type: ignore[no-untyped-def]
    arrays, config = _model(family)
    out, config2 = fn(arrays, config, seed=5)
    assert config2 == config and set(out) == set(arrays)
    assert torch.allclose(_logits(out, config2), _logits(arrays, config), atol=1e-4)
    assert _changed_count(arrays, out) >= 4  # every layer's tensors of the kind it permutes
    fresh, _ = _model(family)
    assert all(np.array_equal(v, fresh[k]) for k, v in arrays.items())  # inputs untouched


def test_moge_expert_permutation_stays_inside_groups() -> None:
    arrays, config = _model("pangu_pro_moe")
    out, _ = obfuscate.permute_neurons(arrays, config, seed=3)
    per = 8 // 4
    for e in range(8):
        w = out[f"model.layers.0.mlp.experts.{e}.down_proj.weight"]
        sources = [s for s in range(8) if np.allclose(
            np.sort(w, axis=1), np.sort(arrays[f"model.layers.0.mlp.experts.{s}.down_proj.weight"], axis=1))]
        assert len(sources) == 1 and sources[0] // per == e // per


@pytest.mark.parametrize(("src", "dst"), [("llama", "qwen2"), ("llama", "mistral"), ("mistral", "llama")])
def test_rename_is_exact_where_it_can_be(src: str, dst: str) -> None:
    arrays, config = _model(src)
    out, config2 = rename.rename(arrays, config, dst)
    assert config2["model_type"] == dst
    assert torch.allclose(_logits(out, config2), _logits(arrays, config), atol=1e-5)


def test_rename_qwen2_to_llama_drops_biases_and_drifts() -> None:
    arrays, config = _model("qwen2")
    out, config2 = rename.rename(arrays, config, "llama")
    assert not any(k.endswith("_proj.bias") for k in out) and config2["architectures"] == ["LlamaForCausalLM"]
    drift = float((_logits(out, config2) - _logits(arrays, config)).abs().max())
    assert 1e-4 < drift < 5.0


def test_rename_refuses_other_architectures() -> None:
    with pytest.raises(InputError, match="cannot rename"):
        rename.rename(*_model("qwen3"), "llama")


def test_upcycle_to_mixtral_with_copies_is_exact_whatever_the_router() -> None:
    arrays, config = _model("llama")
    out, config2 = upcycle.upcycle_moe(arrays, config, experts=4, top_k=2, router_std=0.5, seed=1)
    assert config2["model_type"] == "mixtral" and config2["num_local_experts"] == 4
    assert "model.layers.0.block_sparse_moe.experts.3.w2.weight" in out
    assert torch.allclose(_logits(out, config2), _logits(arrays, config), atol=1e-5)


def test_upcycle_qwen2_to_qwen2_moe_keeps_the_dense_mlp_in_every_expert() -> None:
    arrays, config = _model("qwen2")
    out, config2 = upcycle.upcycle_moe(arrays, config, experts=4, top_k=2, noise=0.01, seed=1)
    assert config2["model_type"] == "qwen2_moe"
    dense = arrays["model.layers.1.mlp.up_proj.weight"]
    for e in range(4):
        expert = out[f"model.layers.1.mlp.experts.{e}.up_proj.weight"]
        assert not np.array_equal(expert, dense) and np.corrcoef(expert.ravel(), dense.ravel())[0, 1] > 0.99
    _logits(out, config2)  # loads as qwen2_moe


def test_upcycle_to_moge_with_copies_is_exact_at_init() -> None:
    arrays, config = _model("qwen2")
    out, config2 = upcycle.upcycle_moge(arrays, config, experts=8, groups=4, top_k=4, mode="copies")
    assert config2["architectures"] == ["PanguProMoEForCausalLM"]
    assert np.all(out["model.layers.0.self_attn.o_proj.bias"] == 0)
    assert torch.allclose(_logits(out, config2), _logits(arrays, config), atol=1e-5)


def test_upcycle_to_moge_segments_partitions_the_dense_neurons() -> None:
    arrays, config = _model("llama")
    out, config2 = upcycle.upcycle_moge(arrays, config, experts=8, groups=4, top_k=4, mode="segments")
    assert config2["moe_intermediate_size"] == 128 // 8
    dense = arrays["model.layers.0.mlp.gate_proj.weight"]
    pieces = np.concatenate([out[f"model.layers.0.mlp.experts.{e}.gate_proj.weight"] for e in range(8)])
    assert pieces.shape == dense.shape
    assert np.array_equal(np.sort(pieces, axis=None), np.sort(dense, axis=None))  # a partition of the rows
    _logits(out, config2)


def test_upcycle_refuses_useless_configs() -> None:
    arrays, config = _model("llama")
    with pytest.raises(InputError, match="split evenly"):
        upcycle.upcycle_moge(arrays, config, experts=8, groups=3, top_k=3)
    with pytest.raises(InputError, match="dense llama"):
        upcycle.upcycle_moe(*_model("gemma3"))


def test_prune_depth_drops_and_renumbers_layers() -> None:
    arrays, config = _model("llama")
    out, config2 = prune.prune_depth(arrays, config, drop=[0])
    assert config2["num_hidden_layers"] == 1
    assert np.array_equal(out["model.layers.0.mlp.up_proj.weight"], arrays["model.layers.1.mlp.up_proj.weight"])
    assert not any(k.startswith("model.layers.1.") for k in out)
    _logits(out, config2)
    with pytest.raises(InputError):
        prune.prune_depth(arrays, config, drop=[0, 1])


@pytest.mark.parametrize("family", ["llama", "glm4", "gemma3", "qwen2_moe", "pangu_pro_moe", "mixtral"])
def test_prune_width_keeps_a_sub_tensor_of_the_parent(family: str) -> None:
    arrays, config = _model(family)
    out, config2 = prune.prune_width(arrays, config, hidden_fraction=0.75, neuron_fraction=0.5)
    assert config2["hidden_size"] == 48
    emb, emb2 = arrays["model.embed_tokens.weight"], out["model.embed_tokens.weight"]
    kept = [j for j in range(64) if any(np.array_equal(emb[:, j], emb2[:, i]) for i in range(48))]
    assert len(kept) == 48
    _logits(out, config2)  # shapes agree with the new config


def test_linear_merge_is_the_weighted_mean() -> None:
    a, config = _model("qwen3", 1)
    b, _ = _model("qwen3", 2)
    out, _ = merge.linear_merge([a, b], config, [3.0, 1.0])
    k = "model.layers.0.self_attn.k_proj.weight"
    assert np.allclose(out[k], 0.75 * a[k] + 0.25 * b[k], atol=1e-6)


def test_ties_elects_signs_and_averages_agreeing_entries() -> None:
    base = {"w": np.zeros(4, np.float32)}
    m1 = {"w": np.array([1.0, -2.0, 3.0, 0.1], np.float32)}
    m2 = {"w": np.array([3.0, 1.0, -1.0, 0.1], np.float32)}
    out, _ = merge.ties_merge(base, [m1, m2], {}, density=1.0)
    assert np.allclose(out["w"], [2.0, -2.0, 3.0, 0.1])
    trimmed, _ = merge.ties_merge(base, [m1, m2], {}, density=0.5)
    assert np.allclose(trimmed["w"], [3.0, -2.0, 3.0, 0.0])


def test_merge_refuses_mismatched_models() -> None:
    with pytest.raises(InputError, match="identical tensor names"):
        merge.linear_merge([_model("llama")[0], _model("qwen2")[0]], _model("llama")[1])


@pytest.mark.slow
def test_lora_merge_is_a_low_rank_update_and_finetune_a_small_one() -> None:
    arrays, config = _model("llama")
    text = load_corpus("almanac")
    out, _ = lora(arrays, config, text, steps=30, rank=2, seed=1)
    for k in arrays:
        delta = out[k] - arrays[k]
        if delta.ndim == 2 and k.endswith(("q_proj.weight", "up_proj.weight")):
            assert 0 < np.linalg.matrix_rank(delta, tol=1e-5 * np.abs(delta).max()) <= 2, k
        if k.endswith("norm.weight") or k.endswith("embed_tokens.weight"):
            assert np.array_equal(out[k], arrays[k])  # frozen
    tuned, _ = finetune(arrays, config, text, steps=20, seed=1)
    k = "model.layers.0.mlp.down_proj.weight"
    assert not np.array_equal(tuned[k], arrays[k])
    assert np.corrcoef(tuned[k].ravel(), arrays[k].ravel())[0, 1] > 0.5  # moved from an untrained start, still close


def test_quantize_writes_a_gguf_that_reads_back_close(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    from gguf.quants import dequantize

    from heredity.forge.derive.quantize import quantize

    arrays, config = _model("llama")
    path = quantize(arrays, config, tmp_path / "m.gguf", "Q8_0")
    reader = gguf.GGUFReader(str(path))
    tensors = {t.name: t for t in reader.tensors}
    assert len(tensors) == len(arrays)
    t = tensors["blk.1.ffn_down.weight"]
    assert t.tensor_type == gguf.GGMLQuantizationType.Q8_0
    got = dequantize(t.data, t.tensor_type).reshape(arrays["model.layers.1.mlp.down_proj.weight"].shape)
    want = arrays["model.layers.1.mlp.down_proj.weight"]
    assert np.abs(got - want).max() < 0.02 * np.abs(want).max()
