"""The family tables are data: strictly validated, loaded once, detected by config and by names."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from heredity.checkpoint.base import MemoryCheckpoint
from heredity.layouts import Role, load_model
from heredity.layouts.matching import split_numbers
from heredity.layouts.registry import all_layouts, detect
from heredity.layouts.schema import LayoutError, load_layout_file, parse_layout
from heredity.synth import make_checkpoint

DATA = Path(__file__).resolve().parents[2] / "src" / "heredity" / "layouts" / "data"
GOOD = {
    "family": "toy",
    "comment": "a toy table",
    "config": {"layers": ["num_hidden_layers"]},
    "tensors": [
        {
            "role": "q",
            "name": "layers.{layer}.q.weight",
            "aliases": [{"name": "l.{layer}.wq", "families": ["x"]}],
        }
    ],
}


def test_all_shipped_tables_parse() -> None:
    files = sorted(DATA.glob("*.json"))
    assert len(files) == len(all_layouts()) >= 17
    for f in files:
        assert load_layout_file(f).family == f.stem


def test_good_table_parses() -> None:
    lay = parse_layout(GOOD)
    assert lay.entries[0].roles == (Role.Q,) and lay.entries[0].names == (
        "layers.{layer}.q.weight",
        "l.{layer}.wq",
    )


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ((), ("optinal", True), "unknown key 'optinal'"),
        (("tensors", 0), ("optinal", True), "unknown key 'optinal'"),
        (("tensors", 0, "aliases", 0), ("familys", []), "unknown key 'familys'"),
        (("tensors", 0), ("role", "query"), "unknown role 'query'"),
        (("tensors", 0), ("optional", "yes"), "wrong type"),
        (("tensors", 0), ("name", "layers.0.q.weight"), "literal number"),
        (("tensors", 0), ("name", "layers.{lyr}.q"), "unknown placeholder"),
        (("tensors", 0), ("unpermute", "rows"), "unpermute"),
        (("tensors", 0), ("split", ["q", "k"]), "exactly one of"),
        (("config",), ("layer_count", ["n"]), "unknown config field"),
    ],
)
def test_strict_validation(path: tuple, value: tuple, message: str) -> None:
    raw = copy.deepcopy(GOOD)
    node: object = raw
    for p in path:
        node = node[p]  # type: ignore[index]
    node[value[0]] = value[1]  # type: ignore[index]
    with pytest.raises(LayoutError, match=message):
        parse_layout(raw)


def test_missing_required_key_and_bad_json(tmp_path: Path) -> None:
    raw = copy.deepcopy(GOOD)
    del raw["tensors"]
    with pytest.raises(LayoutError, match="lacks"):
        parse_layout(raw)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(LayoutError, match="bad.json"):
        load_layout_file(bad)


def test_every_entry_documents_alias_families() -> None:
    for lay in all_layouts():
        assert lay.comment
        for entry in lay.entries:
            for alias in entry.aliases:
                assert alias.families, (lay.family, alias.name)


def test_split_numbers() -> None:
    assert split_numbers("model.layers.3.mlp.experts.17.w1.weight") == (
        "model.layers.#.mlp.experts.#.w1.weight",
        [3, 17],
    )
    assert split_numbers("a.99999999999.b") == ("a.99999999999.b", [])  # absurd indices are text
    assert split_numbers("a.\u0663.b") == ("a.\u0663.b", [])  # non-ASCII digits are text


def test_detection_prefers_config_then_names() -> None:
    names = list(make_checkpoint("qwen3").arrays)
    assert detect({"architectures": ["Qwen3ForCausalLM"]}, "safetensors", names).layout.family == "qwen3"  # type: ignore[union-attr]
    assert detect({"model_type": "qwen3"}, "safetensors", names).layout.family == "qwen3"  # type: ignore[union-attr]
    by_names = detect({}, "safetensors", list(make_checkpoint("gpt2").arrays))
    assert by_names.layout is not None and by_names.layout.family == "gpt2" and "names" in by_names.reason
    wrong = detect({"architectures": ["BertModel"]}, "safetensors", list(make_checkpoint("llama").arrays))
    assert (
        wrong.layout is not None and wrong.layout.family == "llama" and "config says 'bert'" in wrong.reason
    )


def test_prefixes_added_and_stripped() -> None:
    ck = make_checkpoint("llama")
    bare = {k.removeprefix("model."): v for k, v in ck.arrays.items()}  # LlamaModel.save_pretrained
    model = load_model(MemoryCheckpoint(bare, ck.config))
    assert model.unknown == [] and model.has(Role.Q, 1)
    gem = make_checkpoint("gemma3")
    wrapped = {"language_model." + k: v for k, v in gem.arrays.items()}  # multimodal wrapper
    model = load_model(MemoryCheckpoint(wrapped, {"architectures": ["Gemma3ForConditionalGeneration"]}))
    assert model.unknown == [] and model.spec.family == "gemma3"
    bert = make_checkpoint("bert")
    prefixed = {"bert." + k: v for k, v in bert.arrays.items()}
    assert load_model(MemoryCheckpoint(prefixed, bert.config)).unknown == []


def test_llama2c_names() -> None:
    h = 16
    arrays = {"tok_embeddings.weight": np.ones((8, h), np.float32), "norm.weight": np.ones(h, np.float32),
              "output.weight": np.ones((8, h), np.float32)}  # fmt: skip
    for i in range(2):
        arrays |= {f"layers.{i}.attention.w{x}.weight": np.ones((h, h), np.float32) for x in "qkvo"}
        arrays |= {
            f"layers.{i}.feed_forward.w{x}.weight": np.ones((32, h) if x != "2" else (h, 32), np.float32)
            for x in "123"
        }
        arrays |= {
            f"layers.{i}.attention_norm.weight": np.ones(h, np.float32),
            f"layers.{i}.ffn_norm.weight": np.ones(h, np.float32),
        }
    model = load_model(MemoryCheckpoint(arrays, {"dim": h, "n_layers": 2, "n_heads": 2, "n_kv_heads": 1}))
    assert model.unknown == []
    assert (model.spec.family, model.spec.layers, model.spec.heads, model.spec.kv_heads) == ("llama", 2, 2, 1)
    assert model.spec.intermediate_size == 32
    assert model.ref(Role.MLP_GATE, 1).name == "layers.1.feed_forward.w1.weight"
    assert model.ref(Role.MLP_UP, 1).name == "layers.1.feed_forward.w3.weight"


def test_ignored_buffers_are_neither_roles_nor_unknown() -> None:
    ck = make_checkpoint("gpt2")
    ck.arrays["transformer.h.0.attn.bias"] = np.ones((1, 1, 4, 4), np.float32)
    model = load_model(ck)
    assert model.unknown == [] and any("ignored" in n for n in model.spec.notes)


def test_config_shape_disagreement_warns() -> None:
    ck = make_checkpoint("llama")
    ck.config["hidden_size"] = 999
    model = load_model(ck)
    assert model.spec.hidden_size == 64
    assert any("hidden=999" in w for w in ck.warnings)


def test_unknown_family_is_inferred_from_names_and_shapes() -> None:
    h, inter = 16, 40
    rng = np.random.default_rng(0)
    arrays = {"transformer.embed.weight": rng.standard_normal((50, h)).astype(np.float32)}
    for i in range(3):
        p = f"transformer.block.{i}."
        arrays |= {
            p + "attn.query.weight": np.ones((h, h), np.float32),
            p + "attn.key.weight": np.ones((8, h), np.float32),
            p + "attn.value.weight": np.ones((8, h), np.float32),
            p + "attn.out_proj.weight": np.ones((h, h), np.float32),
            p + "mlp.fc1.weight": np.ones((h, inter), np.float32),  # stored [in, out]
            p + "mlp.fc2.weight": np.ones((inter, h), np.float32),
            p + "ln_1.weight": np.ones(h, np.float32),
            p + "ln_2.weight": np.ones(h, np.float32),
            p + "mystery.weight": np.ones((3, 3), np.float32),
        }
    model = load_model(MemoryCheckpoint(arrays, {}))
    spec = model.spec
    assert spec.family == "unknown" and spec.inferred
    assert any("inferred" in n for n in spec.notes)
    assert (spec.layers, spec.hidden_size, spec.intermediate_size, spec.vocab_size) == (3, h, inter, 50)
    assert model.unknown == [f"transformer.block.{i}.mystery.weight" for i in range(3)]
    assert model.get(Role.MLP_UP, 2).shape == (inter, h) and model.get(Role.MLP_DOWN, 2).shape == (h, inter)
    assert model.has(Role.ATTN_NORM, 0) and model.has(Role.MLP_NORM, 0) and model.has(Role.K, 1)
    assert spec.heads is not None and spec.heads * (spec.head_dim or 0) == h  # guessed, and said so
    assert any("guessed head_dim" in n for n in spec.notes)


def test_known_family_with_extra_tensors_maps_the_rest_by_inference() -> None:
    ck = make_checkpoint("llama", layers=1)
    ck.arrays["model.layers.0.self_attn.q_proj.bias"] = np.zeros(64, np.float32)  # optional in the table
    ck.arrays["model.layers.0.extra_norm.weight"] = np.ones(64, np.float32)  # not in the table, no hint
    model = load_model(ck)
    assert model.has(Role.Q_BIAS, 0)
    assert model.unknown == ["model.layers.0.extra_norm.weight"]
