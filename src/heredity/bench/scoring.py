"""Turn per-case outcomes into each detector's figures, overall and per category."""

from __future__ import annotations

from collections.abc import Sequence

from heredity.bench import metrics
from heredity.bench.results import BenchResult, CaseResult, DetectorScores


def detector_names(cases: Sequence[CaseResult]) -> list[str]:
    """Every detector that answered any case, in first-seen order."""
    names: dict[str, None] = {}
    for c in cases:
        names.update(dict.fromkeys(c.outcomes))
    return list(names)


def score_detector(cases: Sequence[CaseResult], name: str) -> DetectorScores:
    """Figures of detector ``name`` over the cases it answered."""
    rows = [(c.label, c.outcomes[name]) for c in cases if name in c.outcomes]
    labels = [lab for lab, _ in rows]
    verdicts = [o.verdict for _, o in rows]
    scores = [o.score for _, o in rows]
    return DetectorScores(
        accuracy=metrics.accuracy(labels, verdicts),
        false_positive_rate=metrics.false_positive_rate(labels, verdicts),
        auc=metrics.roc_auc(labels, scores),
        tpr_at_fpr_1pct=metrics.tpr_at_fpr(labels, scores, 0.01),
        seconds=sum(o.seconds for _, o in rows),
        cases=len(rows),
    )


def by_category(cases: Sequence[CaseResult]) -> dict[str, dict[str, DetectorScores]]:
    """``category -> detector -> scores`` (within one category only accuracy is usually defined)."""
    out: dict[str, dict[str, DetectorScores]] = {}
    for cat in dict.fromkeys(c.category for c in cases):
        subset = [c for c in cases if c.category == cat]
        out[cat] = {name: score_detector(subset, name) for name in detector_names(subset)}
    return out


def summarise(cases: Sequence[CaseResult], notes: Sequence[str] = ()) -> BenchResult:
    """The benchmark result: every detector scored overall and per category."""
    detectors = {name: score_detector(cases, name) for name in detector_names(cases)}
    return BenchResult(cases=tuple(cases), detectors=detectors, categories=by_category(cases), notes=tuple(notes))
