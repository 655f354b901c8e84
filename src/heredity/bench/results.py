"""Plain data the benchmark produces: one outcome per (case, detector), scores per detector.

``BenchResult.to_dict()`` is the ``heredity.bench/1`` JSON document, exactly::

    {"schema": "heredity.bench/1",
     "detectors": {NAME: {"accuracy", "false_positive_rate", "auc", "tpr_at_fpr_1pct", "seconds"}},
     "cases": [{"id", "category", "label", "results": {NAME: {"verdict", "p_value"}}}]}

Per-category figures are kept on the object (for the terminal tables) but not in the JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

BENCH_SCHEMA = "heredity.bench/1"


@dataclass(frozen=True)
class Outcome:
    """What one detector said about one pair.

    ``score`` ranks pairs for the ROC (larger = more related; ``-log10 p`` for p-value detectors).
    ``note`` says why a detector could not answer (not applicable, command failed, ...).
    """

    verdict: str  # "related" | "independent" | "inconclusive"
    p_value: float | None
    score: float
    seconds: float = 0.0
    statistic: float | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "p_value": _num(self.p_value)}


@dataclass(frozen=True)
class CaseResult:
    """One labelled pair and every detector's outcome on it."""

    id: str
    category: str
    label: str
    a_path: str
    b_path: str
    outcomes: Mapping[str, Outcome]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "category": self.category, "label": self.label,
                "results": {name: o.to_dict() for name, o in self.outcomes.items()}}


@dataclass(frozen=True)
class DetectorScores:
    """A detector's figures over a set of cases (None where undefined, e.g. AUC with one class)."""

    accuracy: float | None
    false_positive_rate: float | None
    auc: float | None
    tpr_at_fpr_1pct: float | None
    seconds: float  # total time the detector spent over the cases
    cases: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy": _num(self.accuracy), "false_positive_rate": _num(self.false_positive_rate),
                "auc": _num(self.auc), "tpr_at_fpr_1pct": _num(self.tpr_at_fpr_1pct),
                "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class BenchResult:
    """All cases, the scores of each detector, and per-category accuracy (category -> detector)."""

    cases: tuple[CaseResult, ...]
    detectors: Mapping[str, DetectorScores]
    categories: Mapping[str, Mapping[str, DetectorScores]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # how baselines were calibrated, ...

    def to_dict(self) -> dict[str, Any]:
        return {"schema": BENCH_SCHEMA,
                "detectors": {name: s.to_dict() for name, s in self.detectors.items()},
                "cases": [c.to_dict() for c in self.cases]}


def _num(x: float | None) -> float | None:
    if x is None or math.isnan(x):
        return None
    return float(x)
