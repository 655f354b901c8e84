"""Verdict rules on hand-made evidence."""

from __future__ import annotations

from heredity.results import Evidence
from heredity.verdict import decide


def ev(test: str, p: float | None, *, descriptive: bool = False, **detail: object) -> Evidence:
    return Evidence(test=test, applicable=p is not None, statistic=0.0 if p is not None else None, p_value=p,
                    descriptive=descriptive, reason=None if p is not None else "n/a", detail=detail)


def test_related_needs_holm_adjusted_p_below_threshold() -> None:
    assert decide([ev("matching", 1e-9, layers_compared=4), ev("vectors", 0.5, vectors_compared=9)]).label == "related"
    # 6e-7 * 2 tests > 1e-6 after Holm: not related, flagged instead
    v = decide([ev("matching", 6e-7, layers_compared=4), ev("vectors", 0.5, vectors_compared=9)])
    assert v.label == "inconclusive" and "matching" in v.reason


def test_independent_needs_power() -> None:
    assert decide([ev("matching", 0.4, layers_compared=4), ev("identical", 1.0)]).label == "independent"
    weak = decide([ev("matching", 0.4, layers_compared=1), ev("identical", 1.0)])
    assert weak.label == "inconclusive" and "power" in weak.sentence


def test_descriptive_never_decides() -> None:
    v = decide([ev("attn_std", 1e-30, descriptive=True), ev("matching", 0.3, layers_compared=5)])
    assert v.label == "independent"


def test_nothing_ran_is_inconclusive_with_reasons() -> None:
    v = decide([ev("matching", None), ev("vectors", None)])
    assert v.label == "inconclusive" and v.p_value is None and "matching: n/a" in v.reason


def test_lenient_rejection_blocks_independent() -> None:
    v = decide([ev("matching", 0.01, layers_compared=5), ev("vectors", 0.6, vectors_compared=10)])
    assert v.label == "inconclusive"
