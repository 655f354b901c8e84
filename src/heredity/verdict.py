"""Combine evidence into ``related | independent | inconclusive``.

Rules (the thresholds and why are in docs/LOG.md):

* Only evidence that votes (applicable, not descriptive, with a p-value) takes part.  Their p-values are
  Holm-adjusted across tests; the combined p-value is the smallest adjusted one (``m * min p``).
* ``related`` needs the combined p below :data:`RELATED_P` (1e-6).  A single test at 1e-6 after a
  correction for every test that ran is far beyond what calibration on independent pairs produced, and
  still reached by every derived pair in the calibration suite (their p-values are < 1e-15).
* ``independent`` needs at least one test that ran with real power on the main weights (its
  :class:`~heredity.results.Power` says so) and no voting test rejecting at :data:`LENIENT_P` (0.05)
  *after the same Holm correction*: the combined p-value must be at least 0.05.  The earlier rule
  (any single test below 0.05, unadjusted) turns up to one independent pair in ten ``inconclusive``
  by construction when two or three tests with uniform nulls run.  On the null panel (``heredity bench --null``: 527
  independent pairs, docs/LOG.md 2026-12-01) Holm at 0.05 leaves 8 pairs (1.5 %; 1.7 % of the 477
  pairs where a powerful test ran) ``inconclusive`` by a flagging test, against 21 (4.0 %) under the
  old rule, with no false ``related``.
* Otherwise ``inconclusive``, with the reason (weak evidence, or nothing powerful could run).

Nothing here knows a test by name: what a test counts for travels in its Evidence fields.
"""

from __future__ import annotations

from collections.abc import Sequence

from heredity.results import Evidence, Verdict
from heredity.stats import holm, p_text

RELATED_P = 1e-6
LENIENT_P = 0.05


def voting(evidence: Sequence[Evidence]) -> list[Evidence]:
    """The evidence that takes part in the verdict."""
    return [e for e in evidence if e.votes]


def decide(evidence: Sequence[Evidence], m: int | None = None) -> Verdict:
    """The verdict for one comparison.  ``m``: how many tests the Holm correction counts (default: the
    ones that voted; an adaptive plan that stopped early passes every test it could have run)."""
    used = voting(evidence)
    if not used:
        return Verdict("inconclusive", None, "No lineage test could run on these models.",
                       reason=_not_run(evidence), power="no test ran")
    m = max(len(used), m or 0)
    adjusted = holm([float(e.p_value) for e in used], m)  # type: ignore[arg-type]
    best = min(range(len(used)), key=lambda i: adjusted[i])
    combined = adjusted[best]
    power = "; ".join(f"{e.test}: {e.power.statement}" for e in used if e.power is not None)
    if combined < RELATED_P:
        top = used[best]
        return Verdict("related", combined, f"The models share lineage (p={p_text(combined)}, {top.test}).",
                       reason=f"{top.test}: {top.summary} (Holm-adjusted over {m} tests)", power=power)
    return _not_related(used, combined, power)


def _not_related(used: list[Evidence], combined: float, power: str) -> Verdict:
    """``independent`` or ``inconclusive`` once ``related`` is ruled out: Holm at :data:`LENIENT_P`."""
    m = len(used)
    top = min(used, key=lambda e: float(e.p_value))  # type: ignore[arg-type]  # the test behind ``combined``
    powerful = [e for e in used if e.powerful]
    if combined < LENIENT_P:
        return Verdict("inconclusive", combined, "Some evidence of shared lineage, not enough to decide.",
                       reason=f"Holm-adjusted p={p_text(combined)} over {m} tests is below {LENIENT_P} but not "
                              f"below {RELATED_P}: {top.test} (p={p_text(float(top.p_value))})", power=power)  # type: ignore[arg-type]
    if not powerful:
        return Verdict("inconclusive", combined, "No test with enough power ran; cannot call them independent.",
                       reason="only weak tests ran, none with real power on the main weights", power=power)
    names = ", ".join(e.test for e in powerful)
    return Verdict("independent", combined, "No sign of shared lineage: the models look independently trained.",
                   reason=f"{names} ran on the main weights; smallest Holm-adjusted p={p_text(combined)} over {m} "
                          f"tests ({top.test}) is not below {LENIENT_P}", power=power)


def _not_run(evidence: Sequence[Evidence]) -> str:
    reasons = [f"{e.test}: {e.reason}" for e in evidence if not e.applicable and e.reason]
    return "; ".join(reasons) if reasons else "no tests were selected"
