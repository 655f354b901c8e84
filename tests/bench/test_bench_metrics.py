"""Scoring on hand-computed examples: accuracy, FPR, rank AUC with ties, TPR at FPR <= 1 %."""

from __future__ import annotations

import math

import numpy as np
import pytest

from heredity.bench import metrics

LABELS = ["related", "related", "related", "independent", "independent"]


def test_accuracy_counts_inconclusive_as_wrong() -> None:
    verdicts = ["related", "inconclusive", "independent", "independent", "related"]
    assert metrics.accuracy(LABELS, verdicts) == pytest.approx(2 / 5)
    assert metrics.accuracy([], []) is None


def test_false_positive_rate_is_related_said_of_independent_only() -> None:
    verdicts = ["independent", "independent", "independent", "inconclusive", "related"]
    assert metrics.false_positive_rate(LABELS, verdicts) == pytest.approx(1 / 2)
    assert metrics.false_positive_rate(["related"], ["related"]) is None
    assert metrics.true_positive_rate(LABELS, ["related", "related", "inconclusive", "related", "related"]) == \
        pytest.approx(2 / 3)


def test_average_ranks_share_ties() -> None:
    assert metrics.average_ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [3.5, 1.0, 3.5, 2.0]


def test_auc_by_hand_with_a_tie() -> None:
    # pairs (pos, neg): 5>1 5>2 | 2=2 -> 1/2, 2>1 | 0<1 0<2  => (1+1+0.5+1+0+0)/6
    scores = [5.0, 2.0, 0.0, 1.0, 2.0]
    assert metrics.roc_auc(LABELS, scores) == pytest.approx(3.5 / 6)


def test_auc_perfect_inverted_and_undefined() -> None:
    assert metrics.roc_auc(LABELS, [9, 8, 7, 1, 2]) == 1.0
    assert metrics.roc_auc(LABELS, [1, 2, 3, 8, 9]) == 0.0
    assert metrics.roc_auc(["related"] * 3, [1, 2, 3]) is None


def test_auc_matches_pairwise_definition_on_random_data() -> None:
    rng = np.random.default_rng(0)
    labels = ["related" if x else "independent" for x in rng.random(40) < 0.5]
    scores = rng.integers(0, 6, 40).astype(float)  # many ties
    pos = [s for s, lab in zip(scores, labels, strict=True) if lab == "related"]
    neg = [s for s, lab in zip(scores, labels, strict=True) if lab != "related"]
    pairwise = np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg])
    assert metrics.roc_auc(labels, scores) == pytest.approx(pairwise)


def test_tpr_at_fpr_needs_every_independent_below_with_few_negatives() -> None:
    # max independent score is 2.0: thresholds above it keep FPR 0; only 5.0 clears it
    assert metrics.tpr_at_fpr(LABELS, [5.0, 2.0, 0.0, 1.0, 2.0]) == pytest.approx(1 / 3)
    assert metrics.tpr_at_fpr(LABELS, [5.0, 4.0, 3.0, 1.0, 2.0]) == 1.0
    assert metrics.tpr_at_fpr(LABELS, [0.0, 0.0, 0.0, 1.0, 2.0]) == 0.0


def test_tpr_at_fpr_allows_one_percent_with_many_negatives() -> None:
    labels = ["related"] * 2 + ["independent"] * 200
    scores = [10.0, 3.0] + [5.0, 4.0] + [0.0] * 198  # 2 of 200 negatives above 3.0: FPR 1 % at t=3
    assert metrics.tpr_at_fpr(labels, scores, 0.01) == 1.0
    assert metrics.tpr_at_fpr(labels, scores, 0.005) == 0.5


def test_score_from_p() -> None:
    assert metrics.score_from_p(1e-6) == pytest.approx(6.0)
    assert metrics.score_from_p(0.0) == pytest.approx(300.0)
    assert metrics.score_from_p(None) == 0.0
    assert metrics.score_from_p(math.nan) == 0.0
