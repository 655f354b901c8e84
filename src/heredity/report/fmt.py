"""Small formatting helpers shared by every renderer, so the terminal, HTML and matrix views agree.

Numbers are formatted for people: p-values in scientific notation once they are small (a p-value of
``3e-12`` must not print as ``0.000``), byte counts in binary units, statistics to four digits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from heredity.results import Comparison, Evidence, VerdictLabel
from heredity.stats import FLOOR_SHOWN, FLOOR_TEXT

LABEL_SHORT: dict[str, str] = {"related": "rel", "independent": "ind", "inconclusive": "inc"}
LABEL_STYLE: dict[str, str] = {"related": "bold red", "independent": "bold green", "inconclusive": "bold yellow"}

# What a combined p-value means, per verdict, for a reader who is not a statistician.
LABEL_MEANING: dict[str, str] = {
    "related": "If the two models had been trained independently, evidence this strong would appear "
    "by chance with at most this probability; that is small enough to say they share lineage.",
    "independent": "The tests were able to detect shared lineage but found nothing beyond what "
    "independently trained models show by chance.",
    "inconclusive": "The tests that could run were not strong enough, or could not read what they "
    "needed, to decide either way.",
}


# Every test's p-value is clamped at stats.P_FLOOR (1e-300) and a multiple-testing correction may
# multiply it by the number of tests, so any p-value below this is "at the floor": the true value is
# smaller than anything shown, and printing "3.0e-300" would invite quoting a number never computed.


def at_floor(p: float | None) -> bool:
    """True for a p-value at (or within a correction factor of) the computation floor."""
    return p is not None and not math.isnan(p) and p < FLOOR_SHOWN


def format_p(p: float | None) -> str:
    """A p-value for display: ``-`` when absent, scientific below 0.001, ``<1e-297`` at the floor."""
    if p is None or math.isnan(p):
        return "-"
    if at_floor(p):
        return FLOOR_TEXT
    if p < 1e-3:
        return f"{p:.1e}"
    return f"{p:.3f}"


def format_stat(x: float | None) -> str:
    """A test statistic to four significant digits; ``-`` when absent."""
    if x is None or math.isnan(x):
        return "-"
    return f"{x:.4g}"


def format_bytes(n: int) -> str:
    """Binary units (KiB, MiB, GiB); exact bytes below 1 KiB."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover - loop always returns


def format_seconds(s: float) -> str:
    """Seconds with sensible precision (``0.42 s``, ``12.3 s``, ``2 min 5 s``)."""
    if s < 10:
        return f"{s:.2f} s"
    if s < 120:
        return f"{s:.1f} s"
    return f"{int(s // 60)} min {int(s % 60)} s"


def evidence_role(ev: Evidence) -> str:
    """How one piece of evidence counts: ``verdict``, ``descriptive``, or ``not run``."""
    if not ev.applicable:
        return "not run"
    return "descriptive" if ev.descriptive else "verdict"


def evidence_what(ev: Evidence) -> str:
    """What a test compares: its own summary line if it gave one, else what the test class compares."""
    return ev.summary or ev.compares or ev.test


def label_text(label: VerdictLabel | str) -> str:
    """The verdict label in capitals, as the first word a reader sees."""
    return str(label).upper()


def p_in_words(p: float | None) -> str:
    """``about 1 in 170 billion`` style reading of a p-value, for readers who are not statisticians."""
    if p is None or math.isnan(p):
        return "no combined p-value (no test could run)"
    if at_floor(p):
        return "smaller than 1 in 10^297, the smallest p-value heredity computes"
    if p >= 0.5:  # says nothing about power: an inconclusive pair can have p = 1 too
        return f"{p:.0%}: nothing unusual in the tests that ran"
    odds = 1.0 / p
    if odds >= 1e15:
        return f"about 1 in 10^{math.floor(-math.log10(p))}"
    for scale, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if odds >= scale:
            return f"about 1 in {odds / scale:,.0f} {word}"
    return f"about 1 in {odds:,.0f}"


def plan_line(comp: Comparison) -> str:
    """How the adaptive plan ran: the tests in run order, then what it skipped and why."""
    from heredity.results import Exclusion

    skipped = [e.test for e in comp.evidence if e.excluded in (Exclusion.SETTLED, Exclusion.OVER_BUDGET)]
    said = f"plan: adaptive, ran {', '.join(comp.plan.order) or 'nothing'}"
    if comp.plan.settled_by:
        said += f"; settled by {comp.plan.settled_by}"
    if skipped:
        said += f"; skipped {', '.join(skipped)} (--thorough runs every test)"
    return said


MAX_NONFINITE_LINES = 10


def nonfinite_lines(nonfinite: Mapping[str, Mapping[str, int]]) -> list[str]:
    """One line per tensor with NaN/Inf values seen in what was read (at most a few per side)."""
    from heredity.errors import safe_name

    lines = []
    for side in ("a", "b"):
        found = nonfinite.get(side, {})
        for name, count in list(found.items())[:MAX_NONFINITE_LINES]:
            lines.append(f"{side.upper()}: tensor '{safe_name(name, 120)}' has {count:,} NaN/Inf values "
                         "(set to 0: left out of every statistic)")
        if len(found) > MAX_NONFINITE_LINES:
            lines.append(f"{side.upper()}: and {len(found) - MAX_NONFINITE_LINES} more tensors with NaN/Inf values")
    return lines


def clean_text(text: object, limit: int = 400) -> str:
    """Readable text (sentences, summaries) made safe to print: control and other non-printable
    characters are escaped, printable Unicode such as ``±`` is kept; bounded length."""
    out = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text))
    return out if len(out) <= limit else out[: limit - 3] + "..."
