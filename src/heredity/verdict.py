"""Combine evidence into ``related | independent | inconclusive``.

Rules (the thresholds and why are in docs/LOG.md):

* Only applicable, non-descriptive tests with a p-value take part.  Their p-values are Holm-adjusted
  across tests; the combined p-value is the smallest adjusted one (``m * min p``).
* ``related`` needs the combined p below :data:`RELATED_P` (1e-6).  A single test at 1e-6 after a
  correction for every test that ran is far beyond what calibration on independent pairs produced, and
  still reached by every derived pair in the calibration suite (their p-values are < 1e-15).
* ``independent`` needs at least one test with real power on the main weights (:func:`has_power`) and
  no test rejecting even at the lenient level :data:`LENIENT_P` (0.05, unadjusted): if anything looks
  even mildly suspicious, we do not say independent.
* Otherwise ``inconclusive``, with the reason (weak evidence, or nothing powerful could run).
"""

from __future__ import annotations

from collections.abc import Sequence

from heredity.results import Evidence, Verdict
from heredity.stats import holm

RELATED_P = 1e-6
LENIENT_P = 0.05
MIN_MATCHED_LAYERS = 2  # matching on fewer layers is not enough to call a pair independent
MIN_VECTORS = 4  # the vectors test needs this many non-constant vectors to count as powerful


def voting(evidence: Sequence[Evidence]) -> list[Evidence]:
    """The evidence that takes part in the verdict."""
    return [e for e in evidence if e.applicable and not e.descriptive and e.p_value is not None]


def has_power(e: Evidence) -> bool:
    """Whether a test ran on enough of the main weights that its silence means something."""
    if e.test == "matching":
        return int(e.detail.get("layers_compared", 0)) >= MIN_MATCHED_LAYERS
    if e.test == "experts":
        return len(e.detail.get("per_expert", {})) >= MIN_MATCHED_LAYERS
    if e.test == "vectors":
        return int(e.detail.get("vectors_compared", 0)) >= MIN_VECTORS
    return False


def decide(evidence: Sequence[Evidence]) -> Verdict:
    """The verdict for one comparison."""
    used = voting(evidence)
    if not used:
        return Verdict("inconclusive", None, "No lineage test could run on these models.",
                       reason=_not_run(evidence), power="no test ran")
    adjusted = holm([float(e.p_value) for e in used])  # type: ignore[arg-type]
    best = min(range(len(used)), key=lambda i: adjusted[i])
    combined = adjusted[best]
    power = "; ".join(f"{e.test}: {e.detail['power']}" for e in used if "power" in e.detail)
    if combined < RELATED_P:
        top = used[best]
        return Verdict("related", combined, f"The models share lineage (p={combined:.2g}, {top.test}).",
                       reason=f"{top.test}: {top.summary} (Holm-adjusted over {len(used)} tests)", power=power)
    return _not_related(used, combined, power)


def _not_related(used: list[Evidence], combined: float, power: str) -> Verdict:
    flagged = [e for e in used if float(e.p_value) < LENIENT_P]  # type: ignore[arg-type]
    powerful = [e for e in used if has_power(e)]
    if flagged:
        names = ", ".join(f"{e.test} (p={e.p_value:.2g})" for e in flagged)
        return Verdict("inconclusive", combined, "Some evidence of shared lineage, not enough to decide.",
                       reason=f"below {LENIENT_P} but not below {RELATED_P} after correction: {names}",
                       power=power)
    if not powerful:
        return Verdict("inconclusive", combined, "No test with enough power ran; cannot call them independent.",
                       reason="only weak tests ran (matching needs >= 2 gated-MLP layers, vectors >= 4 "
                              "non-constant vectors)", power=power)
    names = ", ".join(e.test for e in powerful)
    return Verdict("independent", combined, "No sign of shared lineage: the models look independently trained.",
                   reason=f"{names} ran on the main weights and none rejected at {LENIENT_P}", power=power)


def _not_run(evidence: Sequence[Evidence]) -> str:
    reasons = [f"{e.test}: {e.reason}" for e in evidence if not e.applicable and e.reason]
    return "; ".join(reasons) if reasons else "no tests were selected"
