"""Derived pairs are detected; fresh and independent pairs are not; ground truth from evidence_toys."""

from __future__ import annotations

import numpy as np
import pytest
from evidence_toys import (
    Toy,
    drop_layers,
    features,
    finetune,
    make,
    obfuscate,
    prune_width,
    to_model,
    upcycle,
)

from heredity.compare import compare
from heredity.evidence.layers import LayersTest
from heredity.evidence.matching import MatchingTest
from heredity.evidence.vectors import VectorsTest

TOY = Toy(biases=True)


@pytest.fixture(scope="module")
def base() -> dict[str, np.ndarray]:
    return make(TOY, 1)


def test_finetune_related(base: dict[str, np.ndarray]) -> None:
    c = compare(to_model(base, TOY), to_model(finetune(base, 2, eps=0.5), TOY), thorough=True)
    assert c.verdict.label == "related"
    by = {e.test: e for e in c.evidence}
    assert by["matching"].p_value < 1e-6 and by["vectors"].p_value < 1e-6
    assert by["identical"].p_value == 1.0


def test_obfuscated_finetune_related_through_matching(base: dict[str, np.ndarray]) -> None:
    derived = obfuscate(finetune(base, 3, eps=0.2), TOY, seed=4)
    ev = MatchingTest().evaluate(features(base, TOY), features(derived, TOY))
    assert ev.p_value < 1e-20 and "one-to-one" in ev.detail["hidden_alignment"]
    assert compare(to_model(base, TOY), to_model(derived, TOY)).verdict.label == "related"


def test_width_pruned_related(base: dict[str, np.ndarray]) -> None:
    pruned, toy_b = prune_width(finetune(base, 5, eps=0.2), TOY, keep=0.6, seed=6)
    ev = MatchingTest().evaluate(features(base, TOY), features(pruned, toy_b))
    assert ev.p_value < 1e-20
    assert ev.detail["per_layer"]["0~0"]["rows"] == toy_b.inter  # sampled from the narrower side


def test_depth_pruned_layers_aligned() -> None:
    toy = Toy(layers=8)
    w = make(toy, 7)
    short, toy_b = drop_layers(finetune(w, 8, eps=0.3), toy, drop=[2, 5])
    ev = LayersTest().evaluate(features(w, toy), features(short, toy_b))
    assert [tuple(p) for p in ev.detail["path"]] == [(0, 0), (1, 1), (3, 2), (4, 3), (6, 4), (7, 5)]
    assert VectorsTest().evaluate(features(w, toy), features(short, toy_b)).p_value < 1e-6
    assert compare(to_model(w, toy), to_model(short, toy_b)).verdict.label == "related"


def test_upcycled_moe_related(base: dict[str, np.ndarray]) -> None:
    toy = Toy()
    dense = make(toy, 11)
    moe = upcycle(finetune(dense, 12, eps=0.2), toy, experts=4, seed=13)
    c = compare(to_model(dense, toy), to_model(moe, toy, experts=4), thorough=True)
    by = {e.test: e for e in c.evidence}
    assert by["experts"].p_value < 1e-20 and by["experts"].detail["upcycling"]["experts_are_copies"]
    assert c.verdict.label == "related"


def test_independent_trained_pair(base: dict[str, np.ndarray]) -> None:
    c = compare(to_model(base, TOY), to_model(make(TOY, 99), TOY))
    assert c.verdict.label == "independent", c.verdict.reason


def test_two_fresh_inits_never_related() -> None:
    """All-ones norms and zero biases are identical in any two fresh models: they must not count."""
    a, b = make(TOY, 21, trained=False), make(TOY, 22, trained=False)
    c = compare(to_model(a, TOY), to_model(b, TOY))
    by = {e.test: e for e in c.evidence}
    assert by["identical"].p_value == 1.0 and by["identical"].detail["constant_skipped_count"] > 0
    assert not by["vectors"].applicable and "constant" in by["vectors"].reason
    assert c.verdict.label == "independent"


def test_bf16_copy_related_though_not_identical(base: dict[str, np.ndarray]) -> None:
    import ml_dtypes

    c = compare(to_model(base, TOY), to_model(base, TOY, dtype=ml_dtypes.bfloat16))
    assert c.verdict.label == "related"


def _shuffle_experts(w: dict[str, np.ndarray], experts: int, seed: int) -> dict[str, np.ndarray]:
    from heredity.evidence.features import parse_role_key, role_key

    order = np.random.default_rng(seed).permutation(experts)
    out = {}
    for k, v in w.items():
        role, layer, e = parse_role_key(k)
        out[k if e is None else role_key(role, layer, int(order[e]))] = v
    return out


def test_moe_vs_moe_finds_relabelled_experts() -> None:
    toy = Toy()
    dense = make(toy, 31)
    a = upcycle(dense, toy, experts=4, seed=32)
    b = _shuffle_experts(finetune(a, 33, eps=0.2), 4, seed=34)
    ev = {e.test: e for e in compare(to_model(a, toy, experts=4), to_model(b, toy, experts=4), thorough=True).evidence}
    assert ev["experts"].detail["kind"] == "MoE vs MoE" and ev["experts"].p_value < 1e-20


def test_moe_upcycled_from_other_dense_not_matched() -> None:
    """Negative control: experts copied from a *different* dense model match nothing."""
    toy = Toy()
    moe = upcycle(make(toy, 41), toy, experts=4, seed=42)
    ev = {e.test: e for e in compare(to_model(make(toy, 43), toy), to_model(moe, toy, experts=4), thorough=True).evidence}
    assert ev["experts"].p_value > 1e-3
    assert ev["experts"].detail["upcycling"]["experts_are_copies"]  # the MoE itself is still upcycled
