"""The public ``attn_std`` baseline read with a threshold calibrated on the suite's independent pairs.

The published reading (correlation > 0.9 means "same lineage") ignores that depth trends are shared by
design: unrelated models of one recipe correlate highly too.  The fair alternative is to set the
threshold from independent pairs so the false-positive rate is controlled.  To keep that honest on a
small suite, calibration is leave-one-out: an independent pair is judged against the largest
correlation among the *other* independent pairs (the strictest threshold a 1 % FPR target allows with
fewer than 100 negatives), a related pair against the largest over all of them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from heredity.bench.detectors import ATTN_STD
from heredity.bench.results import CaseResult, Outcome

CALIBRATED = "attn_std@calibrated"


def _null(cases: Sequence[CaseResult], skip: str | None) -> list[float]:
    """attn_std correlations of the independent pairs other than ``skip``."""
    out = []
    for c in cases:
        o = c.outcomes.get(ATTN_STD)
        if c.label == "independent" and c.id != skip and o is not None and o.statistic is not None:
            out.append(o.statistic)
    return out


def _judge(o: Outcome, null: list[float]) -> Outcome:
    """Related iff the correlation exceeds every null correlation; p = empirical rank among them."""
    if o.statistic is None or not null:
        return dataclasses.replace(o, verdict="inconclusive", p_value=None, note="no calibration pairs")
    r = o.statistic
    p = empirical_p(r, null)
    verdict = "related" if r > max(null) else "independent"
    return Outcome(verdict, p, r, o.seconds, statistic=r, note=f"threshold {max(null):.4f} from {len(null)} pairs")


def calibrate_attn_std(cases: Sequence[CaseResult]) -> tuple[list[CaseResult], str]:
    """Cases with an ``attn_std@calibrated`` outcome added, and a note saying how it was set."""
    out = []
    for c in cases:
        o = c.outcomes.get(ATTN_STD)
        if o is None:
            out.append(c)
            continue
        judged = _judge(o, _null(cases, c.id if c.label == "independent" else None))
        out.append(dataclasses.replace(c, outcomes={**c.outcomes, CALIBRATED: judged}))
    overall = _null(cases, None)
    top = f"{max(overall):.4f}" if overall else "n/a"
    note = (f"{CALIBRATED}: leave-one-out threshold = max attn_std correlation over the other "
            f"{max(len(overall) - 1, 0)} independent pairs (max over all {len(overall)}: {top}); "
            f"attn_std: published threshold 0.9")
    return out, note


def empirical_p(value: float, null: Sequence[float]) -> float:
    """``(1 + #{null >= value}) / (1 + n)``: the permutation-style p-value of ``value`` against a null."""
    if math.isnan(value):
        return 1.0
    return (1 + sum(x >= value for x in null)) / (1 + len(null))
