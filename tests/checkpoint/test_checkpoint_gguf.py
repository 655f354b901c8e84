"""GGUF writer -> reader round trips on tiny generated models, with known errors per type."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from heredity.checkpoint.gguf_reader import open_gguf
from heredity.checkpoint.gguf_writer import save_gguf
from heredity.errors import InputError
from heredity.layouts.model import unpermute_gguf_rows

H, FFN, LAYERS, VOCAB, HEADS, KV_HEADS = 64, 128, 2, 96, 4, 2
HEAD_DIM = H // HEADS


def tiny_config(model_type: str = "llama") -> dict[str, object]:
    return {
        "model_type": model_type,
        "hidden_size": H,
        "intermediate_size": FFN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "vocab_size": VOCAB,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
    }


def tiny_llama(seed: int = 0, qk_norm: bool = False, gemma: bool = False) -> dict[str, np.ndarray]:
    """An HF-named state dict with random weights (norms random too, so edits are visible)."""
    rng = np.random.default_rng(seed)
    shapes: dict[str, tuple[int, ...]] = {
        "model.embed_tokens.weight": (VOCAB, H),
        "model.norm.weight": (H,),
        "lm_head.weight": (VOCAB, H),
    }
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        shapes |= {
            p + "self_attn.q_proj.weight": (HEADS * HEAD_DIM, H),
            p + "self_attn.k_proj.weight": (KV_HEADS * HEAD_DIM, H),
            p + "self_attn.v_proj.weight": (KV_HEADS * HEAD_DIM, H),
            p + "self_attn.o_proj.weight": (H, HEADS * HEAD_DIM),
            p + "mlp.gate_proj.weight": (FFN, H),
            p + "mlp.up_proj.weight": (FFN, H),
            p + "mlp.down_proj.weight": (H, FFN),
            p + "input_layernorm.weight": (H,),
            p + "post_attention_layernorm.weight": (H,),
        }
        if qk_norm:
            shapes |= {p + "self_attn.q_norm.weight": (HEAD_DIM,), p + "self_attn.k_norm.weight": (HEAD_DIM,)}
        if gemma:
            shapes |= {
                p + "pre_feedforward_layernorm.weight": (H,),
                p + "post_feedforward_layernorm.weight": (H,),
            }
    return {k: rng.normal(0, 0.05, s).astype(np.float32) for k, s in shapes.items()}


@pytest.fixture(scope="module")
def llama_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("gguf")
    arrays = tiny_llama()
    return {
        q: save_gguf(arrays, tiny_config(), d / f"{q}.gguf", qtype=q) for q in ("F32", "F16", "Q8_0", "Q4_0")
    }


def test_round_trip_f32_is_exact_after_unpermuting_qk(llama_files: dict[str, Path]) -> None:
    hf = tiny_llama()
    with open_gguf(llama_files["F32"]) as ck:
        q = ck.read("blk.1.attn_q.weight")
        k = ck.read("blk.1.attn_k.weight")
        assert not np.array_equal(q, hf["model.layers.1.self_attn.q_proj.weight"])  # stored permuted
        assert np.array_equal(unpermute_gguf_rows(q, HEADS), hf["model.layers.1.self_attn.q_proj.weight"])
        assert np.array_equal(unpermute_gguf_rows(k, KV_HEADS), hf["model.layers.1.self_attn.k_proj.weight"])
        assert np.array_equal(ck.read("blk.0.ffn_down.weight"), hf["model.layers.0.mlp.down_proj.weight"])
        assert np.array_equal(ck.read("output_norm.weight"), hf["model.norm.weight"])
        assert np.array_equal(ck.read("output.weight"), hf["lm_head.weight"])


def test_inventory_shapes_dtypes_and_config(llama_files: dict[str, Path]) -> None:
    with open_gguf(llama_files["Q8_0"]) as ck:
        assert ck.format == "gguf"
        info = ck.tensors["blk.0.ffn_down.weight"]
        assert info.shape == (H, FFN) and info.dtype == "Q8_0"
        assert info.nbytes == H * FFN // 32 * 34
        assert ck.tensors["blk.0.attn_norm.weight"].dtype == "F32"  # 1-D stays F32
        assert len(ck.tensors) == 3 + 9 * LAYERS
        cfg = ck.config
    assert cfg["model_type"] == "llama" and cfg["gguf_qk_permuted"] is True
    assert (cfg["num_hidden_layers"], cfg["hidden_size"], cfg["intermediate_size"]) == (LAYERS, H, FFN)
    assert (cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]) == (
        HEADS,
        KV_HEADS,
        HEAD_DIM,
    )
    assert cfg["vocab_size"] == VOCAB and cfg["rope_theta"] == 10000.0
    assert cfg["rms_norm_eps"] == pytest.approx(1e-5)
    assert cfg["tie_word_embeddings"] is False
    assert cfg["gguf_metadata"]["general.architecture"] == "llama"


@pytest.mark.parametrize(("qtype", "tolerance"), [("F16", 1e-4), ("Q8_0", 2e-3), ("Q4_0", 3e-2)])
def test_quantised_round_trip_error_is_bounded(
    llama_files: dict[str, Path], qtype: str, tolerance: float
) -> None:
    """Max abs error against weights of std 0.05: F16 6e-5, Q8_0 7e-4, Q4_0 1.8e-2 (measured)."""
    hf = tiny_llama()["model.layers.0.mlp.gate_proj.weight"]
    with open_gguf(llama_files[qtype]) as ck:
        assert ck.tensors["blk.0.ffn_gate.weight"].dtype == qtype
        got = ck.read("blk.0.ffn_gate.weight")
    err = float(np.abs(got - hf).max())
    assert 0 < err < tolerance
    assert np.corrcoef(got.ravel(), hf.ravel())[0, 1] > (0.99 if qtype == "Q4_0" else 0.9999)


@pytest.mark.parametrize("qtype", ["F32", "F16", "Q8_0", "Q4_0"])
def test_row_read_equals_slice_of_full_read(llama_files: dict[str, Path], qtype: str) -> None:
    with open_gguf(llama_files[qtype]) as ck:
        full = ck.read("token_embd.weight")
        part = ck.read("token_embd.weight", rows=slice(10, 17))
    assert part.shape == (7, H) and part.dtype == np.float32 and part.flags.c_contiguous
    assert np.array_equal(part, full[10:17])


@pytest.mark.parametrize("model_type", ["qwen2", "qwen3", "gemma3"])
def test_other_families_get_llama_cpp_names_without_permutation(tmp_path: Path, model_type: str) -> None:
    arrays = tiny_llama(qk_norm=model_type != "qwen2", gemma=model_type == "gemma3")
    path = save_gguf(arrays, tiny_config(model_type), tmp_path / "m.gguf")
    with open_gguf(path) as ck:
        q = ck.read("blk.0.attn_q.weight")
        assert np.array_equal(q, arrays["model.layers.0.self_attn.q_proj.weight"])
        assert ck.config["model_type"] == model_type and ck.config["gguf_qk_permuted"] is False
        norm = ck.read("blk.0.attn_norm.weight")
        names = set(ck.tensors)
    shift = 1.0 if model_type == "gemma3" else 0.0  # llama.cpp stores Gemma norms as 1 + w
    assert np.allclose(norm, arrays["model.layers.0.input_layernorm.weight"] + shift)
    if model_type != "qwen2":
        assert "blk.1.attn_q_norm.weight" in names
    if model_type == "gemma3":
        assert {
            "blk.0.post_attention_norm.weight",
            "blk.0.ffn_norm.weight",
            "blk.0.post_ffw_norm.weight",
        } <= names


def test_moe_experts_are_stacked(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    arrays = {k: v for k, v in tiny_llama().items() if ".mlp." not in k}
    for i in range(LAYERS):
        arrays[f"model.layers.{i}.mlp.gate.weight"] = rng.normal(size=(4, H)).astype(np.float32)
        for e in range(4):
            for proj, shape in (("gate_proj", (FFN, H)), ("up_proj", (FFN, H)), ("down_proj", (H, FFN))):
                arrays[f"model.layers.{i}.mlp.experts.{e}.{proj}.weight"] = rng.normal(size=shape).astype(
                    np.float32
                )
    config = tiny_config("qwen3_moe") | {
        "num_experts": 4,
        "num_experts_per_tok": 2,
        "moe_intermediate_size": FFN,
    }
    with open_gguf(save_gguf(arrays, config, tmp_path / "moe.gguf")) as ck:
        assert ck.tensors["blk.1.ffn_down_exps.weight"].shape == (4, H, FFN)
        expert2 = ck.read("blk.1.ffn_up_exps.weight")[2]
        assert ck.config["num_experts"] == 4 and ck.config["num_experts_per_tok"] == 2
        assert ck.config["model_type"] == "qwen3_moe"
    assert np.array_equal(expert2, arrays["model.layers.1.mlp.experts.2.up_proj.weight"])


def test_writer_falls_back_to_f16_when_rows_are_not_whole_blocks(tmp_path: Path) -> None:
    arrays = tiny_llama()
    arrays["model.layers.0.mlp.down_proj.weight"] = arrays["model.layers.0.mlp.down_proj.weight"][:, :100]
    arrays["model.layers.0.mlp.gate_proj.weight"] = arrays["model.layers.0.mlp.gate_proj.weight"][:100]
    arrays["model.layers.0.mlp.up_proj.weight"] = arrays["model.layers.0.mlp.up_proj.weight"][:100]
    with open_gguf(save_gguf(arrays, tiny_config(), tmp_path / "m.gguf", qtype="Q4_0")) as ck:
        assert ck.tensors["blk.0.ffn_down.weight"].dtype == "F16"
        assert ck.tensors["blk.1.ffn_down.weight"].dtype == "Q4_0"


def test_writer_refuses_unknown_family_names_and_types(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="model_type 'bert'"):
        save_gguf(tiny_llama(), tiny_config("bert"), tmp_path / "a.gguf")
    with pytest.raises(InputError, match="no llama.cpp name"):
        save_gguf(
            tiny_llama() | {"model.weird.weight": np.zeros(4, np.float32)}, tiny_config(), tmp_path / "b.gguf"
        )
    with pytest.raises(InputError, match="unknown GGUF type"):
        save_gguf(tiny_llama(), tiny_config(), tmp_path / "c.gguf", qtype="Q9_9")


def test_read_after_close_and_unknown_tensor_are_clean_errors(llama_files: dict[str, Path]) -> None:
    ck = open_gguf(llama_files["F32"])
    with pytest.raises(InputError, match="no tensor named"):
        ck.read("nope")
    ck.close()
    with pytest.raises(InputError, match="read after close"):
        ck.read("output.weight")


@pytest.mark.parametrize("model_type", ["llama", "gemma3"])
def test_layouts_canonicalise_gguf_back_to_hf_exactly(tmp_path: Path, model_type: str) -> None:
    """Writer edits (q/k permutation, Gemma 1 + w) and the layouts' inverses agree: HF -> GGUF -> canonical."""
    from heredity.checkpoint.base import MemoryCheckpoint
    from heredity.checkpoint.open import open_checkpoint
    from heredity.layouts.load import model_from_checkpoint
    from heredity.layouts.roles import Role

    gemma = model_type == "gemma3"
    arrays = tiny_llama(qk_norm=gemma, gemma=gemma)
    via_gguf = model_from_checkpoint(
        open_checkpoint(save_gguf(arrays, tiny_config(model_type), tmp_path / "m.gguf"))
    )
    direct = model_from_checkpoint(MemoryCheckpoint(arrays, tiny_config(model_type)))
    for role in (Role.Q, Role.K, Role.V, Role.ATTN_NORM, Role.MLP_DOWN):
        assert np.array_equal(via_gguf.get(role, layer=1), direct.get(role, layer=1)), role


def test_nan_payload_is_a_warning_not_an_error(tmp_path: Path) -> None:
    arrays = tiny_llama()
    arrays["model.layers.0.mlp.up_proj.weight"][3, :5] = np.nan
    with open_gguf(save_gguf(arrays, tiny_config(), tmp_path / "nan.gguf")) as ck:
        assert ck.warnings == []
        assert np.isnan(ck.read("blk.0.ffn_up.weight")).sum() == 5
        assert ck.warnings == [
            "tensor 'blk.0.ffn_up.weight' has 5 non-finite values (NaN/Inf) in the part read"
        ]


def test_every_type_the_gguf_package_dequantises_is_read(tmp_path: Path) -> None:
    """One tensor per ggml type (random block bytes), written raw; reads must match gguf.quants."""
    from gguf import GGUFWriter
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType
    from gguf.quants import _type_traits, dequantize

    rng = np.random.default_rng(3)
    qtypes = sorted(_type_traits, key=int)
    writer = GGUFWriter(tmp_path / "all.gguf", "llama")
    blobs = {}
    for qtype in qtypes:
        _, type_size = GGML_QUANT_SIZES[qtype]
        blobs[qtype.name] = rng.integers(0, 256, size=(3, 2 * type_size), dtype=np.uint8)
        writer.add_tensor(f"t.{qtype.name}", blobs[qtype.name], raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with open_gguf(tmp_path / "all.gguf") as ck, np.errstate(all="ignore"):
        for name, blob in blobs.items():
            block = GGML_QUANT_SIZES[GGMLQuantizationType[name]][0]
            assert ck.tensors[f"t.{name}"].shape == (3, 2 * block)
            expect = dequantize(blob, GGMLQuantizationType[name])
            assert np.array_equal(ck.read(f"t.{name}"), expect, equal_nan=True), name
            assert np.array_equal(ck.read(f"t.{name}", rows=slice(1, 2)), expect[1:2], equal_nan=True), name
    assert {"Q4_K", "Q6_K", "IQ2_XXS", "BF16"} <= set(blobs)
