"""The adaptive evidence plan: cheapest first, stop once `related` is settled after correcting for every
test the plan could have run; never a different verdict from the thorough plan."""

from __future__ import annotations

import numpy as np
import pytest
from evidence_toys import Toy, finetune, make, to_model

from heredity import compare as compare_mod
from heredity.compare import compare
from heredity.evidence.attn_std import AttnStdTest
from heredity.evidence.features import ModelFeatures
from heredity.evidence.plan import default_plan
from heredity.results import Exclusion

TOY = Toy(biases=True)


def _pair(related: bool) -> tuple[object, object]:
    base = make(TOY, 1)
    other = finetune(base, 3) if related else make(TOY, 2)
    return to_model(base, TOY), to_model(other, TOY)


def test_related_stops_early_with_a_conservative_correction() -> None:
    a, b = _pair(related=True)
    fast, full = compare(a, b), compare(a, b, thorough=True)  # type: ignore[arg-type]
    assert fast.verdict.label == full.verdict.label == "related"
    assert fast.plan.mode == "adaptive" and fast.plan.settled_by is not None
    skipped = [e for e in fast.evidence if e.excluded == Exclusion.SETTLED]
    assert skipped and all(not e.votes and "settled by" in (e.reason or "") for e in skipped)
    # every voting test that applied or was skipped unseen counts (one that ran and could not apply does not)
    voting_in_plan = sum(1 for e in fast.evidence if e.votes or e.excluded == Exclusion.SETTLED)
    assert voting_in_plan >= sum(1 for e in full.evidence if e.votes)
    assert fast.plan.corrected_for == voting_in_plan
    decisive = next(e for e in fast.evidence if e.test == fast.plan.settled_by)
    assert fast.verdict.p_value == pytest.approx(min(1.0, voting_in_plan * float(decisive.p_value)))
    assert f"Holm-adjusted over {voting_in_plan} tests" in fast.verdict.reason
    assert sum(fast.bytes_read.values()) < sum(full.bytes_read.values())
    assert [e.test for e in fast.evidence] == [t.name for t in default_plan()]  # reported in plan order


def test_independent_runs_every_voting_test() -> None:
    a, b = _pair(related=False)
    fast, full = compare(a, b), compare(a, b, thorough=True)  # type: ignore[arg-type]
    assert fast.verdict == full.verdict and fast.verdict.label == "independent"
    assert fast.plan.settled_by is None and fast.plan.corrected_for is None
    assert [(e.test, e.p_value) for e in fast.evidence] == [(e.test, e.p_value) for e in full.evidence]


def test_descriptive_tests_over_budget_are_skipped_and_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compare_mod, "DESCRIPTIVE_BUDGET", 100)
    a, b = _pair(related=False)
    c = compare(a, b)  # type: ignore[arg-type]
    attn = next(e for e in c.evidence if e.test == "attn_std")
    assert attn.excluded == Exclusion.OVER_BUDGET and "--thorough" in (attn.reason or "")
    assert c.verdict.label == "independent"
    assert "attn_std" not in c.plan.order
    assert c.to_dict()["plan"]["mode"] == "adaptive"


def test_attn_std_samples_rows_of_large_matrices_and_states_the_error() -> None:
    wide = Toy(layers=4, hidden=512, heads=8, kv_heads=4, inter=64, vocab=64)
    ma, mb = to_model(make(wide, 1), wide), to_model(make(wide, 2), wide)
    full = AttnStdTest(max_rows=0).evaluate(ModelFeatures(ma.view()), ModelFeatures(mb.view()))
    sampled = AttnStdTest(max_rows=64).evaluate(ModelFeatures(ma.view()), ModelFeatures(mb.view()))
    assert full.detail["rows_share"] == 1.0 and full.detail["std_relative_error"] == 0.0
    assert sampled.detail["rows_share"] < 0.3 and 0 < sampled.detail["std_relative_error"] < 0.05
    assert "of rows, largest relative standard error" in sampled.summary
    assert abs(float(sampled.statistic) - float(full.statistic)) < 0.1  # type: ignore[arg-type]
    assert sampled.reads.read["a"] < full.reads.read["a"] / 3
    assert sampled.reads.declared["a"] == pytest.approx(sampled.reads.read["a"], rel=0.05)


def test_attn_std_budget_lowers_rows_but_not_below_the_floor() -> None:
    wide = Toy(layers=4, hidden=512, heads=8, kv_heads=4, inter=64, vocab=64)
    f = ModelFeatures(to_model(make(wide, 1), wide))
    assert AttnStdTest(max_rows=256, budget_mib=0).rows_for(f) == 256
    assert AttnStdTest(max_rows=256, budget_mib=1).rows_for(f) == 32  # 1 MiB / (16 matrices x 512 floats x 4 B)
    assert AttnStdTest(max_rows=0).rows_for(f) is None
    assert np.isfinite(AttnStdTest(max_rows=8).evaluate(f, f).statistic or np.nan)
