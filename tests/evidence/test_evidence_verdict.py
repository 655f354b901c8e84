"""Verdict rules on hand-made evidence: what counts is typed (power, descriptive), never a test's name."""

from __future__ import annotations

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
    v = decide([ev("matching", 0.01, powerful=True), ev("vectors", 0.6, powerful=True)])
    assert v.label == "inconclusive"
