"""Canonicalisation: Gemma 1 + w, fused splits, GGUF q/k un-permutation, transformers-5 fused experts."""

from __future__ import annotations

import numpy as np

from heredity.checkpoint.base import MemoryCheckpoint
from heredity.layouts import Role, load_model
from heredity.synth import make_checkpoint


def _rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_gemma_norms_are_one_plus_stored() -> None:
    ck = make_checkpoint("gemma3")
    model = load_model(ck)
    stored = ck.arrays["model.layers.1.pre_feedforward_layernorm.weight"]
    assert abs(float(stored.mean())) < 0.05  # gemma stores w around 0 ...
    assert np.allclose(model.get(Role.MLP_NORM, 1), 1.0 + stored)  # ... and scales by 1 + w
    assert np.allclose(model.get(Role.Q_NORM, 0), 1.0 + ck.arrays["model.layers.0.self_attn.q_norm.weight"])
    assert np.allclose(model.get(Role.FINAL_NORM), 1.0 + ck.arrays["model.norm.weight"])


def test_gpt2_c_attn_split_equals_parts() -> None:
    h = 8
    q, k, v = _rand(h, h, seed=1), _rand(h, h, seed=2), _rand(h, h, seed=3)  # canonical [out, in]
    bq, bk, bv = _rand(h, seed=4), _rand(h, seed=5), _rand(h, seed=6)
    arrays = {
        "transformer.wte.weight": _rand(16, h),
        "transformer.h.0.attn.c_attn.weight": np.concatenate([q, k, v]).T.copy(),  # Conv1D stores [in, 3*out]
        "transformer.h.0.attn.c_attn.bias": np.concatenate([bq, bk, bv]),
        "transformer.h.0.mlp.c_fc.weight": _rand(h, 4 * h, seed=7),
    }
    model = load_model(MemoryCheckpoint(arrays, {"model_type": "gpt2", "n_head": 2}))
    for role, part in (
        (Role.Q, q),
        (Role.K, k),
        (Role.V, v),
        (Role.Q_BIAS, bq),
        (Role.K_BIAS, bk),
        (Role.V_BIAS, bv),
    ):
        assert np.array_equal(model.get(role, 0), part), role
    assert model.get(Role.MLP_UP, 0).shape == (4 * h, h)
    assert np.array_equal(model.get(Role.MLP_UP, 0), arrays["transformer.h.0.mlp.c_fc.weight"].T)


def test_glm4_gate_up_split_equals_parts() -> None:
    gate, up = _rand(24, 8, seed=1), _rand(24, 8, seed=2)
    arrays = {"model.layers.0.mlp.gate_up_proj.weight": np.concatenate([gate, up])}
    model = load_model(MemoryCheckpoint(arrays, {"architectures": ["Glm4ForCausalLM"]}))
    assert np.array_equal(model.get(Role.MLP_GATE, 0), gate)
    assert np.array_equal(model.get(Role.MLP_UP, 0), up)


def _llama_cpp_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """What convert_hf_to_gguf does to llama q/k rows (written out independently of the library)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def test_gguf_unpermute_inverts_llama_cpp_permutation() -> None:
    heads, kv_heads, head_dim, hidden = 4, 2, 8, 32
    q, k = _rand(heads * head_dim, hidden, seed=1), _rand(kv_heads * head_dim, hidden, seed=2)
    qb = _rand(heads * head_dim, seed=3)
    arrays = {
        "token_embd.weight": _rand(10, hidden),
        "blk.0.attn_q.weight": _llama_cpp_permute(q, heads),
        "blk.0.attn_k.weight": _llama_cpp_permute(k, kv_heads),
        "blk.0.attn_q.bias": _llama_cpp_permute(qb, heads),
    }
    assert not np.array_equal(arrays["blk.0.attn_q.weight"], q)
    config = {
        "model_type": "llama",
        "gguf_qk_permuted": True,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
    }
    model = load_model(MemoryCheckpoint(arrays, config, format="gguf"))
    assert (model.spec.family, model.spec.format) == ("llama", "gguf")
    assert np.array_equal(model.get(Role.Q, 0), q)
    assert np.array_equal(model.get(Role.K, 0), k)
    assert np.array_equal(model.get(Role.Q_BIAS, 0), qb)
    # without the flag (qwen2, gemma GGUF) rows are taken as stored
    plain = load_model(MemoryCheckpoint(arrays, {**config, "gguf_qk_permuted": False}, format="gguf"))
    assert np.array_equal(plain.get(Role.Q, 0), arrays["blk.0.attn_q.weight"])


def test_synth_gguf_matches_synth_llama_after_unpermute() -> None:
    a = load_model(make_checkpoint("llama", seed=9))
    b = load_model(make_checkpoint("gguf", seed=9))
    assert b.spec.family == "llama"  # GGUF names, llama architecture
    ck = b.stored_checkpoint(b.checkpoint)
    assert isinstance(ck, MemoryCheckpoint)
    # gguf stores permuted rows; the canonical rows must have HF (rotate-half) structure again
    stored = ck.arrays["blk.0.attn_q.weight"]
    assert np.array_equal(b.get(Role.Q, 0), _unpermute_by_hand(stored, 4))
    assert a.spec.heads == b.spec.heads


def _unpermute_by_hand(w: np.ndarray, n_head: int) -> np.ndarray:
    half = w.shape[0] // n_head // 2
    out = np.empty_like(w)
    for h in range(n_head):
        for i in range(half):
            out[h * 2 * half + i] = w[h * 2 * half + 2 * i]
            out[h * 2 * half + half + i] = w[h * 2 * half + 2 * i + 1]
    return out


def test_transformers5_fused_experts() -> None:
    experts, inter, hidden = 3, 6, 8
    gate = [_rand(inter, hidden, seed=10 + e) for e in range(experts)]
    up = [_rand(inter, hidden, seed=20 + e) for e in range(experts)]
    down = [_rand(hidden, inter, seed=30 + e) for e in range(experts)]
    arrays = {
        "model.layers.0.mlp.gate.weight": _rand(experts, hidden),
        "model.layers.0.mlp.experts.gate_up_proj": np.stack(
            [np.concatenate([g, u]) for g, u in zip(gate, up, strict=True)]
        ),
        "model.layers.0.mlp.experts.down_proj": np.stack(down),
    }
    for arch in ("Qwen3MoeForCausalLM", "MixtralForCausalLM"):
        model = load_model(MemoryCheckpoint(dict(arrays), {"architectures": [arch]}))
        assert model.unknown == []
        assert model.spec.experts == experts and model.spec.moe_intermediate_size == inter
        for e in range(experts):
            assert np.array_equal(model.get(Role.EXPERT_GATE, 0, e), gate[e])
            assert np.array_equal(model.get(Role.EXPERT_UP, 0, e), up[e])
            assert np.array_equal(model.get(Role.EXPERT_DOWN, 0, e), down[e])
        ref = model.ref(Role.EXPERT_UP, 0, 2)
        model = model.view()  # a fresh read recorder
        model.load(ref)
        assert (
            model.bytes_read == arrays["model.layers.0.mlp.experts.gate_up_proj"][2].nbytes
        )  # one expert read


def test_gguf_fused_experts_index() -> None:
    w = _rand(4, 6, 8)
    arrays = {"token_embd.weight": _rand(10, 8), "blk.0.ffn_gate_exps.weight": w}
    model = load_model(MemoryCheckpoint(arrays, {}, format="gguf"))
    assert [r.expert for r in model.refs_for(Role.EXPERT_GATE)] == [0, 1, 2, 3]
    assert np.array_equal(model.get(Role.EXPERT_GATE, 0, 3), w[3])
