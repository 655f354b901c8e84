"""One contract suite over every evidence test, run on configured instances (scikit-learn style).

Every test of the default plan is checked with its default parameters and with non-default ones:
determinism given a seed, well-formed typed results (a power statement whenever it applies, a typed
reason when it does not, declared reads), JSON round trip, symmetry where claimed, and no small
p-values on independent toy pairs.
"""

from __future__ import annotations

import json
import math

import pytest
from evidence_toys import Toy, features, finetune, make

from heredity import plotdata
from heredity.errors import UsageError
from heredity.evidence import plan
from heredity.evidence.attn_std import AttnStdTest
from heredity.evidence.base import EvidenceTest, ReadPlan
from heredity.evidence.embeddings import EmbeddingsTest
from heredity.evidence.experts import ExpertsTest
from heredity.evidence.features import Features
from heredity.evidence.layers import LayersTest
from heredity.evidence.matching import MatchingTest
from heredity.evidence.neurons import NeuronsTest
from heredity.evidence.vectors import VectorsTest
from heredity.fingerprint import extract
from heredity.results import Evidence, Exclusion, Power

TOY = Toy(biases=True)
A, B = make(TOY, 1), make(TOY, 2)

#: Every test with default parameters, and again with non-default ones.
INSTANCES: list[EvidenceTest] = [
    *plan.default_plan(),
    VectorsTest(seed=3, n_perm=199, n_null_samples=50),
    MatchingTest(seed=1, max_rows=32, max_layers=2),
    NeuronsTest(seed=5, max_rows=24, max_layers=3),
    ExpertsTest(seed=2, max_rows=16, max_layers=1, max_experts=2),
    LayersTest(seed=4, n_perm=50),
    EmbeddingsTest(seed=6, max_tokens=64, max_units=16),
]
IDS = [repr(t) for t in INSTANCES]


def run(test: EvidenceTest, related: bool = False) -> Evidence:
    b = finetune(A, 3) if related else B
    return test.evaluate(features(A, TOY), features(b, TOY))


def test_every_test_is_in_the_default_plan_and_covered() -> None:
    assert {type(t) for t in INSTANCES} == set(plan.TESTS)
    assert [t.name for t in plan.default_plan()] == plan.names()
    assert len(set(plan.names())) == len(plan.TESTS)


@pytest.mark.parametrize("test", INSTANCES, ids=IDS)
def test_deterministic_given_seed(test: EvidenceTest) -> None:
    e1, e2 = run(test), run(test.with_params())
    assert (e1.statistic, e1.p_value) == (e2.statistic, e2.p_value)


@pytest.mark.parametrize("test", INSTANCES, ids=IDS)
def test_result_well_formed(test: EvidenceTest) -> None:
    for related in (False, True):
        e = run(test, related=related)
        assert e.test == test.name and e.descriptive == test.descriptive
        assert e.compares == test.compares and e.compares
        assert e.params == test.get_params()
        assert e.summary and e.seconds >= 0
        if e.applicable:
            assert isinstance(e.power, Power) and e.power.statement, f"{test!r} gave no power statement"
            assert e.statistic is not None
            if e.descriptive:
                assert not e.power.main_weights  # descriptive silence never supports `independent`
            else:
                assert e.p_value is not None and 0.0 <= e.p_value <= 1.0
            assert all(isinstance(p, plotdata.Plot) for p in e.plots)
        else:
            assert e.reason and isinstance(e.excluded, Exclusion)
        assert set(e.reads.read) == {"a", "b"}


@pytest.mark.parametrize("test", INSTANCES, ids=IDS)
def test_json_round_trip(test: EvidenceTest) -> None:
    e = run(test, related=True)
    d = json.loads(json.dumps(e.to_dict(), allow_nan=False))
    assert d["test"] == test.name and d["params"] == json.loads(json.dumps(test.get_params()))
    assert d["power"] == (None if e.power is None else e.power.to_dict())
    rebuilt = [plotdata.from_dict(p) for p in d["plots"]]
    assert [type(p) for p in rebuilt] == [type(p) for p in e.plots]
    for again, orig in zip(rebuilt, e.plots, strict=True):
        assert again.to_dict() == orig.to_dict()


@pytest.mark.parametrize("test", INSTANCES, ids=IDS)
def test_declares_reads_before_reading(test: EvidenceTest) -> None:
    fa, fb = features(A, TOY), features(B, TOY)
    declared = test.reads(fa, fb)
    assert isinstance(declared, ReadPlan)
    assert fa.model.bytes_read == 0 and fb.model.bytes_read == 0  # declaring reads nothing
    e = test.evaluate(fa, fb)
    if e.applicable and e.reads.read["a"]:
        assert e.reads.declared["a"] > 0  # a test that read bytes declared some


@pytest.mark.parametrize("test", INSTANCES, ids=IDS)
def test_fingerprint_side_applicable_or_says_why(test: EvidenceTest) -> None:
    fp = extract(features(A, TOY).model)
    e = test.evaluate(fp, features(B, TOY))
    if test.needs_weights:
        assert not e.applicable and e.excluded == Exclusion.FINGERPRINT
    else:
        assert e.applicable or e.excluded is not None


@pytest.mark.parametrize("test", [t for t in INSTANCES if not t.descriptive], ids=lambda t: repr(t))
def test_calibrated_on_independent_toy_pairs(test: EvidenceTest) -> None:
    """No voting test rejects strongly on independent toy pairs (the full calibration is in LOG.md)."""
    ps = []
    for seed in range(4):
        a, b = make(TOY, 100 + 2 * seed), make(TOY, 101 + 2 * seed)
        e = test.evaluate(features(a, TOY), features(b, TOY))
        if e.votes:
            ps.append(float(e.p_value))  # type: ignore[arg-type]
    assert all(p > 1e-3 for p in ps), ps


def test_forgetting_the_power_statement_fails_the_contract() -> None:
    """A test that returns Evidence without Power is caught by the suite's check."""

    class Forgetful(EvidenceTest):
        name = "forgetful"
        compares = "nothing"

        def reads(self, a: Features, b: Features) -> ReadPlan:
            return ReadPlan()

        def run(self, a: Features, b: Features) -> Evidence:
            return Evidence(self.name, True, 0.5, 0.5, summary="no power")

    with pytest.raises(AssertionError, match="gave no power statement"):
        test_result_well_formed(Forgetful())
    with pytest.raises(TypeError):
        Forgetful().evidence(0.5, 0.5, "x")  # type: ignore[call-arg]  # the shorthand requires power=


def test_parameters_resolved_at_the_edge() -> None:
    tests = plan.parse(["vectors,matching:max_layers=4:max_rows=128", "attn_std"], seed=7)
    assert tests == [VectorsTest(seed=7), MatchingTest(seed=7, max_layers=4, max_rows=128), AttnStdTest(seed=7)]
    assert repr(tests[1]) == "MatchingTest(seed=7, max_rows=128, max_layers=4)"
    for bad, match in (("nope", "choose from"), ("matching:max_rows", "bad parameter"),
                       ("matching:colour=red", "bad parameter"), ("matching:max_rows=abc", "not a valid int"),
                       ("matching:max_rows=0", "must be >= 1")):
        with pytest.raises(UsageError, match=match):
            plan.parse([bad])


def test_vectors_symmetric() -> None:
    fa, fb = features(A, TOY), features(B, TOY)
    assert VectorsTest().run(fa, fb).statistic == pytest.approx(VectorsTest().run(fb, fa).statistic)


def test_attn_std_gives_no_p_value() -> None:
    """The public fingerprint has no null valid under independence: no p-value, the naive one labelled."""
    e = run(AttnStdTest(), related=False)
    assert e.applicable and e.p_value is None and 0.0 <= e.detail["naive_pearson_p"] <= 1.0
    assert e.context and not math.isnan(e.statistic or math.nan)
