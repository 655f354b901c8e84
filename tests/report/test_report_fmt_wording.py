"""Numbers a reader may quote: floored p-values and p = 1 are worded so they cannot be misquoted."""

from __future__ import annotations

import pytest

from heredity.report import fmt


@pytest.mark.parametrize("p", [1e-300, 3e-300, 6e-300, 0.0])
def test_floored_p_values_say_below_the_floor(p: float) -> None:
    assert fmt.format_p(p) == "<1e-297"
    assert "1 in 10^297" in fmt.p_in_words(p) and "about" not in fmt.p_in_words(p)


def test_small_but_computed_p_values_are_shown() -> None:
    assert fmt.format_p(2.5e-40) == "2.5e-40" and fmt.p_in_words(1e-20) == "about 1 in 10^20"


def test_p_of_one_claims_no_independence() -> None:
    words = fmt.p_in_words(1.0)
    assert "independen" not in words and "ordinary" not in words and words.startswith("100%")
