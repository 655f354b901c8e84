"""Verdict rules on hand-made evidence: what counts is typed (power, descriptive), never a test's name."""

from __future__ import annotations

import pytest

from heredity.results import Evidence, Exclusion, Power
from heredity.verdict import decide


def ev(test: str, p: float | None, *, descriptive: bool = False, powerful: bool = False) -> Evidence:
    if p is None:
        return Evidence(test=test, applicable=False, reason="n/a", excluded=Exclusion.MISSING)
    return Evidence(test=test, applicable=True, statistic=0.0, p_value=p, descriptive=descriptive,
                    power=Power(powerful, f"{test} could detect x"))


def test_related_needs_holm_adjusted_p_below_threshold() -> None:
    assert decide([ev("matching", 1e-9, powerful=True), ev("vectors", 0.5, powerful=True)]).label == "related"
    # 6e-7 * 2 tests > 1e-6 after Holm: not related, flagged instead
    v = decide([ev("matching", 6e-7, powerful=True), ev("vectors", 0.5, powerful=True)])
    assert v.label == "inconclusive" and "matching" in v.reason


def test_independent_needs_power() -> None:
    assert decide([ev("matching", 0.4, powerful=True), ev("identical", 1.0)]).label == "independent"
    weak = decide([ev("matching", 0.4), ev("identical", 1.0)])
    assert weak.label == "inconclusive" and "power" in weak.sentence
    assert "matching could detect x" in weak.power


def test_power_travels_in_the_type_not_the_name() -> None:
    """A test the verdict has never heard of counts exactly as its Power says."""
    assert decide([ev("brand_new_test", 0.4, powerful=True)]).label == "independent"
    assert decide([ev("brand_new_test", 0.4)]).label == "inconclusive"


def test_descriptive_never_decides() -> None:
    v = decide([ev("attn_std", 1e-30, descriptive=True), ev("matching", 0.3, powerful=True)])
    assert v.label == "independent"
    descriptive_power = Evidence("x", True, 0.0, 0.4, descriptive=True, power=Power(True, "claims power"))
    assert not descriptive_power.powerful and decide([descriptive_power]).label == "inconclusive"


def test_nothing_ran_is_inconclusive_with_reasons() -> None:
    v = decide([ev("matching", None), ev("vectors", None)])
    assert v.label == "inconclusive" and v.p_value is None and "matching: n/a" in v.reason


def test_lenient_rejection_blocks_independent() -> None:
    # adapted to the Holm rule (2026-12-01): 0.01 over 2 tests is 0.02 after Holm, still below 0.05
    v = decide([ev("matching", 0.01, powerful=True), ev("vectors", 0.6, powerful=True)])
    assert v.label == "inconclusive"
    assert "Holm-adjusted p=0.02 over 2 tests" in v.reason and "matching (p=0.01)" in v.reason


def test_independent_uses_holm_at_the_lenient_level() -> None:
    """The old rule let any single test below 0.05 block `independent`; now the Holm-adjusted p must be."""
    v = decide([ev("matching", 0.03, powerful=True), ev("vectors", 0.6, powerful=True), ev("identical", 1.0)])
    assert v.label == "independent" and v.p_value == pytest.approx(0.09)
    assert "Holm-adjusted p=0.09 over 3 tests (matching) is not below 0.05" in v.reason
    alone = decide([ev("matching", 0.03, powerful=True)])  # one test: nothing to adjust
    assert alone.label == "inconclusive" and "Holm-adjusted p=0.03 over 1 tests" in alone.reason


def test_holm_boundary_at_the_lenient_level() -> None:
    below = decide([ev("matching", 0.024, powerful=True), ev("vectors", 0.9, powerful=True)])  # 0.048
    above = decide([ev("matching", 0.026, powerful=True), ev("vectors", 0.9, powerful=True)])  # 0.052
    assert (below.label, above.label) == ("inconclusive", "independent")


def test_descriptive_tests_do_not_dilute_the_correction() -> None:
    voting = decide([ev("matching", 0.02, powerful=True), ev("vectors", 0.9), ev("identical", 1.0)])
    assert voting.label == "independent"  # 3 voting tests: 0.06
    described = decide([ev("matching", 0.02, powerful=True), ev("vectors", 0.9, descriptive=True),
                        ev("identical", 1.0, descriptive=True)])
    assert described.label == "inconclusive"  # only matching votes: 0.02


def test_high_p_without_power_stays_inconclusive() -> None:
    v = decide([ev("vectors", 0.9), ev("identical", 1.0)])
    assert v.label == "inconclusive" and "only weak tests ran" in v.reason


def test_related_rule_is_unchanged() -> None:
    v = decide([ev("matching", 4e-7, powerful=True), ev("vectors", 0.5, powerful=True)])  # 8e-7 after Holm
    assert v.label == "related" and v.p_value == pytest.approx(8e-7)
