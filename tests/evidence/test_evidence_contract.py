"""One contract suite over every registered evidence test (scikit-learn style)."""

from __future__ import annotations

import json

import pytest
from evidence_toys import Toy, features, finetune, make

from heredity.evidence import registry
from heredity.evidence.base import EvidenceTest
from heredity.fingerprint import extract
from heredity.results import Evidence

TOY = Toy(biases=True)
A, B = make(TOY, 1), make(TOY, 2)


def run(cls: type[EvidenceTest], seed: int = 0, related: bool = False) -> Evidence:
    b = finetune(A, 3) if related else B
    return cls(seed=seed).evaluate(features(A, TOY), features(b, TOY))


@pytest.mark.parametrize("name", registry.names())
def test_deterministic_given_seed(name: str) -> None:
    cls = registry.get(name)
    e1, e2 = run(cls), run(cls)
    assert (e1.statistic, e1.p_value) == (e2.statistic, e2.p_value)


@pytest.mark.parametrize("name", registry.names())
def test_result_well_formed(name: str) -> None:
    cls = registry.get(name)
    for related in (False, True):
        e = run(cls, related=related)
        assert e.test == name and e.descriptive == cls.descriptive
        assert e.summary and e.seconds >= 0
        if e.applicable and not e.descriptive:
            assert e.p_value is not None and 0.0 <= e.p_value <= 1.0
        elif e.applicable:  # descriptive tests may lack a valid null; a p-value they give is still in [0, 1]
            assert e.statistic is not None and (e.p_value is None or 0.0 <= e.p_value <= 1.0)
        else:
            assert e.reason
        json.dumps(e.to_dict())  # detail must be JSON-serialisable
        assert "tensors_read" in e.detail


@pytest.mark.parametrize("name", registry.names())
def test_fingerprint_side_applicable_or_says_why(name: str) -> None:
    cls = registry.get(name)
    fp = extract(features(A, TOY).model)
    e = cls().evaluate(fp, features(B, TOY))
    if cls.needs_weights:
        assert not e.applicable and "fingerprint" in (e.reason or "")
    else:
        assert e.applicable or e.reason


def test_registry_order_and_unknown_name() -> None:
    from heredity.errors import UsageError

    assert registry.names()[:3] == ["identical", "vectors", "matching"]
    with pytest.raises(UsageError, match="choose from"):
        registry.get("nope")


def test_vectors_symmetric() -> None:
    cls = registry.get("vectors")
    fa, fb = features(A, TOY), features(B, TOY)
    assert cls().run(fa, fb).statistic == pytest.approx(cls().run(fb, fa).statistic)


def test_attn_std_gives_no_p_value() -> None:
    """The public fingerprint has no null valid under independence: no p-value, the naive one labelled."""
    e = run(registry.get("attn_std"), related=False)
    assert e.applicable and e.p_value is None and 0.0 <= e.detail["naive_pearson_p"] <= 1.0
