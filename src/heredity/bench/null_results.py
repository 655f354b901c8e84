"""The null panel's plain data and its scoring: every pair is independent, so every ``related`` is a
false positive, every ``inconclusive`` a miss, and each voting test's p-values should be uniform.

``score(cases, models)`` turns per-pair outcomes into the figures; ``NullResult.to_dict()`` is the
``heredity.bench.null/1`` JSON document::

    {"schema": "heredity.bench.null/1", "models": M, "pairs": N,
     "rates": {"related", "inconclusive", "independent", "inconclusive_flagged", "inconclusive_no_power"},
     "previous_rule": {same keys},
     "tests": {TEST: {"n", "ks_d", "ks_p", "min_p", "median_p", "below_0_05", "below_0_01", "histogram"}},
     "tags": {DIMENSION: {VALUE: {"pairs", "related", "inconclusive", "independent"}}},
     "notes": [...],
     "cases": [{"id", "a", "b", "tags", "verdict", "p_value", "previous", "powerful", "p_values", "note"}]}

``previous`` is the verdict under the rule used before 2026-12-01 (any voting test below 0.05,
unadjusted, blocked ``independent``), recomputed from the same evidence so both rules are measured on
the same pairs.  ``inconclusive_flagged`` counts inconclusive pairs where a powerful test ran (a test
flagged them); ``inconclusive_no_power`` those where no test with power on the main weights could run
(a limit of the tests, not of the rule).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from heredity.results import Evidence
from heredity.stats import holm
from heredity.verdict import LENIENT_P, RELATED_P, voting

NULL_SCHEMA = "heredity.bench.null/1"
HIST_BINS = 10  # p-value histogram: ten bins of width 0.1 on [0, 1]
LABELS = ("related", "inconclusive", "independent")


@dataclass(frozen=True)
class NullCase:
    """One independent pair and what heredity said about it.

    ``p_values`` holds each voting test's p-value (descriptive tests excluded); ``powerful`` is true when
    a test with power on the main weights ran; ``tags`` place the pair in the panel's dimensions
    (families, data, size, side, kind)."""

    id: str
    a: str
    b: str
    tags: Mapping[str, str]
    verdict: str  # "related" | "independent" | "inconclusive"
    p_value: float | None
    previous: str  # the verdict under the previous (unadjusted 0.05) rule
    powerful: bool
    p_values: Mapping[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "a": self.a, "b": self.b, "tags": dict(self.tags), "verdict": self.verdict,
                "p_value": _num(self.p_value), "previous": self.previous, "powerful": self.powerful,
                "p_values": {k: _num(v) for k, v in self.p_values.items()}, "note": self.note}


@dataclass(frozen=True)
class Uniformity:
    """One voting test's p-values over the panel against U(0, 1).

    ``ks_d`` / ``ks_p``: one-sided Kolmogorov-Smirnov (``alternative="greater"``: the empirical CDF above
    the uniform one, i.e. an excess of small p-values).  Pairs share models, so the p-values are not
    independent draws and the KS p-value is only a loose guide."""

    n: int
    ks_d: float | None
    ks_p: float | None
    min_p: float | None
    median_p: float | None
    below_0_05: float | None  # share of p-values below 0.05
    below_0_01: float | None
    histogram: tuple[int, ...]  # counts in [0, .1), [.1, .2), ..., [.9, 1]

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "ks_d": _num(self.ks_d), "ks_p": _num(self.ks_p), "min_p": _num(self.min_p),
                "median_p": _num(self.median_p), "below_0_05": _num(self.below_0_05),
                "below_0_01": _num(self.below_0_01), "histogram": list(self.histogram)}


@dataclass(frozen=True)
class Rates:
    """Shares of the panel's pairs by verdict (None when the panel is empty)."""

    related: float | None
    inconclusive: float | None
    independent: float | None
    inconclusive_flagged: float | None  # inconclusive although a powerful test ran
    inconclusive_no_power: float | None  # inconclusive because no powerful test could run

    def to_dict(self) -> dict[str, Any]:
        return {"related": _num(self.related), "inconclusive": _num(self.inconclusive),
                "independent": _num(self.independent), "inconclusive_flagged": _num(self.inconclusive_flagged),
                "inconclusive_no_power": _num(self.inconclusive_no_power)}


@dataclass(frozen=True)
class NullResult:
    """The whole panel: its pairs, the rates under the current and the previous rule, per-test uniformity
    and verdict counts per value of each tag dimension (``tags[dimension][value][label]``)."""

    cases: tuple[NullCase, ...]
    models: int
    rates: Rates
    previous: Rates
    tests: Mapping[str, Uniformity]
    tags: Mapping[str, Mapping[str, Mapping[str, int]]]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"schema": NULL_SCHEMA, "models": self.models, "pairs": len(self.cases),
                "rates": self.rates.to_dict(), "previous_rule": self.previous.to_dict(),
                "tests": {name: u.to_dict() for name, u in self.tests.items()},
                "tags": {d: {v: dict(c) for v, c in per.items()} for d, per in self.tags.items()},
                "notes": list(self.notes), "cases": [c.to_dict() for c in self.cases]}


def previous_rule(evidence: Sequence[Evidence]) -> str:
    """The verdict label under the rule replaced on 2026-12-01: ``related`` as today (Holm below 1e-6);
    otherwise any voting test below 0.05 *unadjusted* gives ``inconclusive``; ``independent`` needs a
    powerful test.  Kept only to measure the old rule on the same evidence."""
    used = voting(evidence)
    if not used:
        return "inconclusive"
    ps = [float(e.p_value) for e in used]  # type: ignore[arg-type]
    if min(holm(ps)) < RELATED_P:
        return "related"
    if min(ps) < LENIENT_P or not any(e.powerful for e in used):
        return "inconclusive"
    return "independent"


def uniformity(ps: Sequence[float]) -> Uniformity:
    """One-sided KS of ``ps`` against U(0, 1), with a few plain summaries and a 10-bin histogram."""
    import numpy as np
    from scipy.stats import kstest

    if not ps:
        return Uniformity(0, None, None, None, None, None, None, (0,) * HIST_BINS)
    ks = kstest(list(ps), "uniform", alternative="greater")
    hist, _ = np.histogram(np.clip(ps, 0.0, 1.0), bins=HIST_BINS, range=(0.0, 1.0))
    n = len(ps)
    return Uniformity(n, float(ks.statistic), float(ks.pvalue), min(ps), float(statistics.median(ps)),
                      sum(p < 0.05 for p in ps) / n, sum(p < 0.01 for p in ps) / n, tuple(int(h) for h in hist))


def rates(cases: Sequence[NullCase], previous: bool = False) -> Rates:
    """Shares by verdict; ``previous`` reads the previous rule's labels instead of the current ones."""
    n = len(cases)
    if n == 0:
        return Rates(None, None, None, None, None)
    labels = [c.previous if previous else c.verdict for c in cases]
    inconc = [c for c, lab in zip(cases, labels, strict=True) if lab == "inconclusive"]
    return Rates(labels.count("related") / n, len(inconc) / n, labels.count("independent") / n,
                 sum(c.powerful for c in inconc) / n, sum(not c.powerful for c in inconc) / n)


def voting_tests(cases: Sequence[NullCase]) -> list[str]:
    """Every voting test seen on the panel, in first-seen order."""
    names: dict[str, None] = {}
    for c in cases:
        names.update(dict.fromkeys(c.p_values))
    return list(names)


def by_tag(cases: Sequence[NullCase]) -> dict[str, dict[str, dict[str, int]]]:
    """``dimension -> value -> {"pairs", "related", "inconclusive", "independent"}`` (current rule)."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for c in cases:
        for dim, value in c.tags.items():
            row = out.setdefault(dim, {}).setdefault(value, {"pairs": 0, **dict.fromkeys(LABELS, 0)})
            row["pairs"] += 1
            if c.verdict in LABELS:
                row[c.verdict] += 1
    return out


def score(cases: Sequence[NullCase], models: int, notes: Sequence[str] = ()) -> NullResult:
    """The panel's figures from its per-pair outcomes."""
    tests = {t: uniformity([c.p_values[t] for c in cases if t in c.p_values]) for t in voting_tests(cases)}
    return NullResult(tuple(cases), models, rates(cases), rates(cases, previous=True), tests, by_tag(cases),
                      tuple(notes))


def _num(x: float | None) -> float | None:
    if x is None or math.isnan(x):
        return None
    return float(x)
