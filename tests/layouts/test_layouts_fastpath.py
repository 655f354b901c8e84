"""Laying out a big inventory decides once per key or digit pattern; the answers must be those of the
per-name rules.  The reference here is the per-name algorithm as it was before (split every name,
resolve every name, infer every leftover name), run on the same inventories: a DeepSeek-V3-sized one,
every family the forge can build (bare and under a wrapper prefix), and hostile names."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from heredity.checkpoint.base import Checkpoint, TensorInfo
from heredity.layouts import infer
from heredity.layouts.expand import refs_for
from heredity.layouts.infer import layer_of
from heredity.layouts.load import (
    IGNORED,
    _components,
    _layer_position,
    _mtp_first_layer,
    _unpermute_heads,
    model_from_checkpoint,
)
from heredity.layouts.matching import _split_in_bulk, digit_patterns, slot_match, split_names, split_numbers
from heredity.layouts.model import TensorRef
from heredity.layouts.registry import detect_split, family_names, name_index
from heredity.layouts.spec import flatten_config
from heredity.synth import make_checkpoint


class HeaderOnly(Checkpoint):
    """An inventory without bytes (layouts read headers only)."""

    def __init__(self, tensors: dict[str, tuple[int, ...]], config: dict[str, Any]) -> None:
        self._tensors = {n: TensorInfo(n, s, "BF16", 0) for n, s in tensors.items()}
        self.source, self.format, self.config, self.warnings = "<header-only>", "safetensors", config, []

    @property
    def tensors(self) -> dict[str, TensorInfo]:
        return self._tensors

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        raise AssertionError("layouts must not read tensor bytes")


def _reference(ck: Checkpoint) -> tuple[list[TensorRef], list[str], tuple[Any, ...]]:
    """Refs, unknown names and components by the per-name rules."""
    inventory, config = ck.tensors, flatten_config(ck.config)
    split = [(n, *split_numbers(n)) for n in inventory]
    found = detect_split(config, ck.format, split)
    layout, prefix = found.layout, found.prefix
    index = name_index(layout.family) if layout else None
    heads, mtp_from = _unpermute_heads(layout, config), _mtp_first_layer(layout, config)
    key_prefix, skip = split_numbers(prefix)[0], len(split_numbers(prefix)[1])
    refs: list[TensorRef] = []
    leftover: list[str] = []
    outside: list[str] = []
    for name, key, numbers in split:
        at = _layer_position(key) if mtp_from is not None else None
        if at is not None and at < len(numbers) and numbers[at] < 10**6:
            layer = numbers[at] or -1
        else:  # a 7-digit number, or a '#' that was one in the name: layer_of decides
            layer = -1 if at is None else (layer_of(name)[0] or -1)
        if mtp_from is not None and layer >= mtp_from:
            continue
        under = bool(prefix) and name.startswith(prefix)
        match: Any = None
        if index is not None:
            slot, nums = (index.lookup(key[len(key_prefix) :], len(numbers) - skip), numbers[skip:]) if under else (None, numbers)
            if slot is None:
                slot, nums = index.lookup(key, len(numbers)), numbers
            if slot is not None:
                match = IGNORED if slot.entry is None else slot_match(slot, nums)
        if match is IGNORED:
            continue
        if match is not None:
            refs.extend(refs_for(match, inventory[name], heads, ck.source))
        elif prefix and not under:
            outside.append(name)
        else:
            leftover.append(name)
    components, stray = _components(outside, prefix.count("."))
    inferred, unknown = _reference_infer([inventory[n] for n in leftover + stray], refs)
    return refs + inferred, unknown, components


def _reference_infer(infos: list[TensorInfo], known: list[TensorRef]) -> tuple[list[TensorRef], list[str]]:
    taken = {r.key for r in known}
    hidden = infer._hidden(infos)
    refs: list[TensorRef] = []
    unknown: list[str] = []
    for info in infos:
        ref = infer._infer_one(info, lambda: hidden)
        if ref is None or ref.key in taken:
            unknown.append(info.name)
        else:
            taken.add(ref.key)
            refs.append(ref)
    return refs, unknown


def _same_as_reference(ck: Checkpoint) -> None:
    refs, unknown, components = _reference(ck)
    model = model_from_checkpoint(ck)
    assert model.refs == refs
    assert model.unknown == unknown
    assert model.components == components


def _deepseek_v3(layers: int, experts: int) -> HeaderOnly:
    """DeepSeek-V3's names (fp8 scales beside each linear weight, one multi-token-prediction layer)."""
    ck = make_checkpoint("deepseek_v3", layers=layers, hidden=8, heads=2, kv_heads=2, intermediate=8,
                         vocab=16, experts=experts, experts_per_token=2, moe_intermediate=4)  # fmt: skip
    config = dict(ck.config, num_nextn_predict_layers=1)
    last = f"model.layers.{layers - 1}."
    shapes = {n: i.shape for n, i in ck.tensors.items()}
    shapes |= {n.replace(last, f"model.layers.{layers}."): s for n, s in shapes.items() if n.startswith(last)}
    shapes[f"model.layers.{layers}.eh_proj.weight"] = (8, 16)
    scales = {n.replace(".weight", ".weight_scale_inv"): (1, 1) for n, s in shapes.items() if len(s) == 2}
    return HeaderOnly(shapes | scales, config)


def test_a_deepseek_v3_sized_inventory_maps_as_name_by_name() -> None:
    ck = _deepseek_v3(layers=10, experts=128)
    for name in ("model.layers.0000011.mlp.gate_proj.weight", "model.layers.11.layers.12.mlp.up_proj.weight",
                 "model.layers.1234567.mlp.up_proj.weight", "model.layers.10.\u0663.up_proj.weight",
                 "model.layers.#.mlp.up_proj.weight", "model.layers.#.layers.12.mlp.up_proj.weight"):  # fmt: skip
        ck.tensors[name] = TensorInfo(name, (8, 8), "BF16", 0)  # odd layer numbers past the MTP layer
    assert len(ck.tensors) > 5_000
    _same_as_reference(ck)
    model = model_from_checkpoint(ck)
    assert len({r.expert for r in model.refs}) == 129 and len(model.unknown) > 2_000  # experts; fp8 scales


@pytest.mark.parametrize("family", [f for f in family_names() if f != "gguf"])
@pytest.mark.parametrize("prefix", ["", "model.language_model.", "base_model.model.", "0.auto_model."])
def test_every_family_maps_as_name_by_name(family: str, prefix: str) -> None:
    ck = make_checkpoint(family, layers=3, hidden=8, heads=2, kv_heads=2, intermediate=8, vocab=16)
    shapes = {prefix + n: i.shape for n, i in ck.tensors.items()}
    shapes["vision_tower.blocks.0.attn.qkv.weight"] = (24, 8)  # a component outside the prefix
    shapes["model.layers.1.mlp.experts.3.gate_proj.weight_scale_inv"] = (1, 1)
    _same_as_reference(HeaderOnly(shapes, ck.config))


_ODD = [
    "model.layers.0000001.self_attn.q_proj.weight",  # 7 digits: a number to keys, not a layer to layer_of
    "model.layers.00000001.self_attn.q_proj.weight",  # 8 digits: text
    "model.layers.1234567.mlp.down_proj.weight",
    "model.layers.\u0663.mlp.up_proj.weight",  # a non-ASCII digit
    "model.layers.2.mlp.experts.\u0663.up_proj.weight",
    "model.layers.#.mlp.up_proj.weight",  # a literal '#'
    "model.layers.3.mlp.up\nproj.weight",  # a newline
    "model.layers.4.mlp.w1.weight",
    "h.5.ln_1.weight",
    "blk.6.attn_q.weight",
    "Layers.7.q_proj.weight",
    "layers.8.9.q_proj.weight",
    "x.layers.10..q_proj.weight",
    "11.12.13",
    "",
    ".",
    "model.embed_tokens.weight",
    "lm_head.weight",
    "model.norm.weight",
]


@pytest.mark.parametrize("base", ["llama", "qwen3_moe", None])
def test_hostile_names_map_as_name_by_name(base: str | None) -> None:
    shapes: dict[str, tuple[int, ...]] = {}
    config: dict[str, Any] = {}
    if base is not None:
        ck = make_checkpoint(base, layers=2, hidden=8, heads=2, kv_heads=2, intermediate=8, vocab=16)
        shapes, config = {n: i.shape for n, i in ck.tensors.items()}, ck.config
    rng = np.random.default_rng(0)
    for i, name in enumerate(_ODD):
        shapes[name] = [(8,), (8, 8), (16, 8), (8, 16)][i % 4]
        shapes[name.replace(".weight", ".bias")] = (8,)
    for _ in range(300):  # random dotted names of words, digits, '#' and odd characters
        parts = rng.choice(["layers", "h", "blk", "7", "007", "12345678", "#", "q_proj", "w2", "\u0663", "mlp"], 5)
        shapes[".".join(parts) + ".weight"] = (8, 8)
    _same_as_reference(HeaderOnly(shapes, config))


def test_split_names_is_split_numbers_name_by_name() -> None:
    rng = np.random.default_rng(1)
    alphabet = list("ab.19#\n\u0663_") + ["layers.", "0000000", "12345678", ".3."]
    names = ["".join(rng.choice(alphabet, rng.integers(0, 12))) for _ in range(3000)] + _ODD
    clean = [n for n in names if "#" not in n and "\n" not in n]
    for batch in (names, clean, clean[:1], []):
        assert split_names(batch) == [(n, *split_numbers(n)) for n in batch]
    assert Counter(len(s[2]) for s in split_names(clean))[0] < len(clean)  # numbers were found
    words = ["model", "layers", "3", "007", "0000000", "1234567", "12345678", "experts", "q_proj", "", "x"]
    tidy = list(dict.fromkeys(".".join(rng.choice(words, rng.integers(1, 8))) for _ in range(5000)))
    tidy = [n for n in tidy if "12345678" not in n]  # (8 digits stay text: per-name keys)
    assert _split_in_bulk(tidy, digit_patterns(tidy) or []) is not None  # all in whole number segments
    assert split_names(tidy) == [(n, *split_numbers(n)) for n in tidy]


def test_nested_patterns_refuse_what_infer_one_refuses() -> None:
    rng = np.random.default_rng(2)
    words = ["layers", "layer", "h", "blk", "Block", "1", "42", "0000001", "1234567", "\u0663", "q_proj", "w1",
             "norm", "bias", "weight", "", "7x"]  # fmt: skip
    names = [".".join(rng.choice(words, rng.integers(1, 7))) for _ in range(3000)]
    names = list(dict.fromkeys(names))
    inventory = {n: TensorInfo(n, (8, 8) if i % 2 else (8,), "F32", 0) for i, n in enumerate(names)}
    assert infer.infer_refs(names, inventory, []) == _reference_infer(list(inventory.values()), [])
