"""Scoring a lineage detector on labelled pairs: pure numpy, no I/O.

Conventions (the same for every detector, so numbers are comparable):

* A *positive* is a pair labelled ``related``.  A detector's verdict counts as correct only when it
  equals the label, so ``inconclusive`` is never correct; it is not a false positive either
  (only ``related`` said of an ``independent`` pair is).
* The ranking score is ``-log10 p`` (larger = more evidence of lineage); a detector without a
  p-value may supply any score where larger means "more related" (the ``attn_std`` correlation).
  A missing score ranks lowest, as a p-value of 1 would.
* ROC AUC is the Mann-Whitney probability that a random related pair outscores a random independent
  one, ties counting one half.  It is ``None`` when either class is absent.
* TPR at FPR <= 1 %: the best true-positive rate over thresholds ``score >= t`` whose false-positive
  rate stays within 1 %; with fewer than 100 independent pairs that means no independent pair may
  reach the threshold at all.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from heredity.stats import neg_log10_p


def score_from_p(p_value: float | None) -> float:
    """``-log10 p`` clipped at the shared floor; a missing or NaN p-value scores 0 (as p = 1)."""
    return neg_log10_p(p_value)


def _positives(labels: Sequence[str]) -> np.ndarray:
    return np.array([lab == "related" for lab in labels], dtype=bool)


def accuracy(labels: Sequence[str], verdicts: Sequence[str]) -> float | None:
    """Share of pairs whose verdict equals the label (None for no pairs)."""
    if not labels:
        return None
    return float(np.mean([v == lab for lab, v in zip(labels, verdicts, strict=True)]))


def false_positive_rate(labels: Sequence[str], verdicts: Sequence[str]) -> float | None:
    """Share of independent pairs called ``related`` (None when there is no independent pair)."""
    said = [v for lab, v in zip(labels, verdicts, strict=True) if lab == "independent"]
    return float(np.mean([v == "related" for v in said])) if said else None


def true_positive_rate(labels: Sequence[str], verdicts: Sequence[str]) -> float | None:
    """Share of related pairs called ``related`` (None when there is no related pair)."""
    said = [v for lab, v in zip(labels, verdicts, strict=True) if lab == "related"]
    return float(np.mean([v == "related" for v in said])) if said else None


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` with tied values sharing the mean of their ranks."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)  # rank of the last member of each tie group
    mean_rank = ends - (counts - 1) / 2.0
    return mean_rank[inverse]


def roc_auc(labels: Sequence[str], scores: Sequence[float]) -> float | None:
    """Rank-based (Mann-Whitney) ROC AUC with ties as one half; None when a class is missing."""
    pos = _positives(labels)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = average_ranks(np.asarray(scores, dtype=float))
    u = ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def tpr_at_fpr(labels: Sequence[str], scores: Sequence[float], max_fpr: float = 0.01) -> float | None:
    """Best TPR over thresholds ``score >= t`` with FPR <= ``max_fpr``; None when a class is missing."""
    pos = _positives(labels)
    if pos.all() or not pos.any():
        return None
    s = np.asarray(scores, dtype=float)
    thresholds = np.append(np.unique(s), np.inf)  # inf: call nothing related (TPR 0, FPR 0)
    called = s[None, :] >= thresholds[:, None]  # [thresholds, pairs]
    fpr = called[:, ~pos].mean(axis=1)
    tpr = called[:, pos].mean(axis=1)
    return float(tpr[fpr <= max_fpr + 1e-12].max())
