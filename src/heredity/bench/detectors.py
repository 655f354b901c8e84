"""Detectors the benchmark scores, all behind one small interface.

One ``heredity.compare`` call per pair yields several detectors at once:

* ``heredity`` — the combined verdict and its p-value, as ``heredity compare`` reports it.
* one detector per evidence test (``identical``, ``vectors``, ``matching``, ``layers``, ``experts``, ...;
  descriptive tests included, since measuring them is what a benchmark is for) — that test alone, read with the verdict's own rules for one test: ``related`` when
  its p-value is below the verdict's threshold (1e-6), ``inconclusive`` when it is below the verdict's
  lenient level (0.05) but not the threshold, or when the test was not applicable, ``independent``
  otherwise.  So each row of the table says what the test would decide if it were the only one.
* ``attn_std`` — the public HonestAGI fingerprint (Pearson correlation of per-layer attention std
  curves).  Its published use calls a pair related when the correlation exceeds 0.9
  (:data:`ATTN_STD_PUBLISHED_THRESHOLD`), so that is its verdict here; it is ranked by the correlation
  itself.  A second, fairer reading calibrated on the suite's independent pairs is added afterwards
  by :func:`heredity.bench.baseline.calibrate_attn_std`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from heredity.bench.metrics import score_from_p
from heredity.bench.results import Outcome
from heredity.results import Comparison, Evidence
from heredity.verdict import LENIENT_P

if TYPE_CHECKING:
    from collections.abc import Sequence

    from heredity.evidence.base import EvidenceTest

ATTN_STD_PUBLISHED_THRESHOLD = 0.9  # HonestAGI: correlation above 0.9 read as "same lineage"
ATTN_STD = "attn_std"
COMBINED = "heredity"


class Detector(Protocol):
    """Anything that looks at two checkpoints and says related / independent / inconclusive."""

    name: str  # the main detector name (where a failure on a pair is recorded)

    def run(self, a: str, b: str) -> Mapping[str, Outcome]:
        """Outcomes keyed by detector name (one call may serve several detectors)."""
        ...


def evidence_outcome(ev: Evidence, threshold: float, lenient: float = LENIENT_P) -> Outcome:
    """One evidence test used alone: related below ``threshold``, independent at or above ``lenient``."""
    if not ev.applicable or ev.p_value is None or math.isnan(ev.p_value):
        return Outcome("inconclusive", None, 0.0, ev.seconds, note=ev.reason or "no p-value")
    p = ev.p_value
    verdict = "related" if p < threshold else ("inconclusive" if p < lenient else "independent")
    return Outcome(verdict, ev.p_value, score_from_p(ev.p_value), ev.seconds, statistic=ev.statistic)


def attn_std_outcome(ev: Evidence, threshold: float = ATTN_STD_PUBLISHED_THRESHOLD) -> Outcome:
    """The HonestAGI reading: related iff the curve correlation exceeds ``threshold``; ranked by it."""
    r = ev.statistic
    if not ev.applicable or r is None or math.isnan(r):
        return Outcome("inconclusive", None, -math.inf, ev.seconds, note=ev.reason or "no correlation")
    verdict = "related" if r > threshold else "independent"
    return Outcome(verdict, ev.p_value, float(r), ev.seconds, statistic=float(r))


def comparison_outcomes(comp: Comparison) -> dict[str, Outcome]:
    """Every detector one comparison yields: the combined verdict, each test alone, attn_std."""
    v = comp.verdict
    out = {COMBINED: Outcome(v.label, v.p_value, score_from_p(v.p_value), comp.seconds)}
    for ev in comp.evidence:
        if ev.test == ATTN_STD:
            out[ATTN_STD] = attn_std_outcome(ev)
        else:  # descriptive tests too: the benchmark is where their power is measured
            out[ev.test] = evidence_outcome(ev, v.threshold)
    return out


class HeredityDetector:
    """Runs ``heredity.compare`` on a pair and reads off every detector it yields."""

    name = COMBINED

    def __init__(self, tests: Sequence[EvidenceTest] | None = None, seed: int = 0) -> None:
        self.tests = tests
        self.seed = seed

    def run(self, a: str, b: str) -> Mapping[str, Outcome]:
        from heredity.compare import compare

        # thorough: every test's outcome is scored alone, so none may be skipped by the adaptive plan
        return comparison_outcomes(compare(a, b, tests=self.tests, seed=self.seed, thorough=True))
