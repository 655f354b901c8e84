"""Hostile or odd inventories: clear errors before allocating, honest warnings, nothing silently dropped."""

from __future__ import annotations

import numpy as np
import pytest

from heredity.checkpoint.base import Checkpoint, MemoryCheckpoint, TensorInfo
from heredity.errors import CorruptCheckpointError
from heredity.inspect import inspect_model
from heredity.layouts import Role, load_model
from heredity.synth import make_checkpoint


class HeaderOnly(Checkpoint):
    """An inventory that claims shapes no memory could hold (nothing is ever read)."""

    def __init__(self, tensors: dict[str, tuple[int, ...]], config: dict) -> None:
        self._tensors = {n: TensorInfo(n, s, "F32", 0) for n, s in tensors.items()}
        self.source, self.format, self.config, self.warnings = "<header-only>", "safetensors", config, []

    @property
    def tensors(self) -> dict[str, TensorInfo]:
        return self._tensors

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        raise AssertionError("layouts must not read tensor bytes")


def test_absurd_fused_expert_count_is_rejected_without_allocating() -> None:
    ck = HeaderOnly(
        {"model.layers.0.mlp.experts.down_proj": (10**9, 64, 32)}, {"architectures": ["Qwen3MoeForCausalLM"]}
    )
    with pytest.raises(CorruptCheckpointError, match="fused expert tensor"):
        load_model(ck)


def test_fused_tensor_that_cannot_split_is_rejected() -> None:
    ck = HeaderOnly({"transformer.h.0.attn.c_attn.weight": (64, 190)}, {"model_type": "gpt2"})
    with pytest.raises(CorruptCheckpointError, match="cannot split into 3"):
        load_model(ck)


def test_huge_declared_shapes_are_only_counted() -> None:
    ck = HeaderOnly({"model.embed_tokens.weight": (10**7, 10**5)}, {"architectures": ["LlamaForCausalLM"]})
    r = inspect_model(load_model(ck))
    assert r.params == 10**12 and r.vocab_size == 10**7


def test_missing_layer_tensor_is_warned() -> None:
    ck = make_checkpoint("llama", layers=4)
    del ck.arrays["model.layers.2.self_attn.q_proj.weight"]
    r = inspect_model(load_model(ck))
    assert "role 'q' missing in layers 2" in r.warnings


def test_mtp_layers_are_skipped_and_noted() -> None:
    ck = make_checkpoint("deepseek_v3", layers=3)
    ck.config["num_hidden_layers"] = 2
    ck.config["num_nextn_predict_layers"] = 1
    ck.arrays["model.layers.2.eh_proj.weight"] = np.ones((64, 128), np.float32)
    model = load_model(ck)
    assert model.spec.layers == 2 and model.unknown == []
    assert not model.has(Role.KV_A, 2) and model.has(Role.KV_A, 1)
    assert any("multi-token-prediction" in n for n in model.spec.notes)


def test_expert_index_in_names_beyond_table_is_unknown_not_crash() -> None:
    ck = make_checkpoint("mixtral", layers=1)
    ck.arrays["model.layers.0.block_sparse_moe.experts.99999999999.w1.weight"] = np.ones((2, 2), np.float32)
    model = load_model(ck)
    assert model.unknown == ["model.layers.0.block_sparse_moe.experts.99999999999.w1.weight"]


def test_empty_checkpoint_is_unknown_family_not_an_error() -> None:
    model = load_model(MemoryCheckpoint({}, {}))
    assert model.spec.family == "unknown" and model.spec.layers == 0 and model.refs == []


def test_very_deep_names_cost_no_quadratic_prefix_search() -> None:
    """Wrapper prefixes are looked for only a few segments deep: 2,000 names of 2,000 segments each
    (8 MB of names, as a hostile header may hold) are laid out at once, not in 10**10 steps."""
    deep = {".".join(["x"] * 2000 + [str(i), "weight"]): (2,) for i in range(2000)}
    model = load_model(HeaderOnly(deep, {}))
    assert model.prefix == "" and model.spec.family == "unknown"
    assert len(model.unknown) + len(model.refs) == 2000


def test_wrapped_names_are_found_under_a_shallow_prefix_only() -> None:
    names = {"a.b.c.d.e.f.g." + n: i.shape for n, i in make_checkpoint("llama", seed=1).tensors.items()}
    model = load_model(HeaderOnly(names, {}))
    assert model.prefix == ""  # seven segments deep: not a wrapper heredity looks for


def test_config_int_refuses_non_finite_and_non_whole_numbers() -> None:
    from heredity.layouts.spec import config_int

    for bad in (float("inf"), float("-inf"), float("nan"), 2.5, -1, True, "4", None):
        assert config_int({"n": bad}, ("n",)) is None, bad
    assert config_int({"n": 4.0}, ("n",)) == 4 and config_int({"m": 3}, ("n", "m")) == 3
