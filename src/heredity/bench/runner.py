"""Run detectors over the labelled suite and score them.

``run_bench(cases, detectors)`` asks every detector about every pair, adds the calibrated ``attn_std``
reading (see :mod:`heredity.bench.baseline`), and scores each detector overall and per category.  A
detector that fails on a pair with a :class:`~heredity.errors.HeredityError` (an unreadable file, say)
is recorded as ``inconclusive`` for that pair, never as ``independent``; other exceptions propagate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from heredity.bench.baseline import calibrate_attn_std
from heredity.bench.detectors import Detector
from heredity.bench.results import BenchResult, CaseResult, Outcome
from heredity.bench.scoring import summarise
from heredity.errors import HeredityError

ProgressFn = Callable[[str, int, int], None]


class LabelledPair(Protocol):
    """What the runner needs of a case (``heredity.forge.suite.Case`` fits; read-only fields)."""

    @property
    def id(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def a_path(self) -> str: ...
    @property
    def b_path(self) -> str: ...


def ask(detector: Detector, a: str, b: str) -> dict[str, Outcome]:
    """One detector's outcomes on one pair; a HeredityError becomes an inconclusive outcome."""
    start = time.perf_counter()
    try:
        return dict(detector.run(a, b))
    except HeredityError as exc:
        return {detector.name: Outcome("inconclusive", None, 0.0, time.perf_counter() - start, note=str(exc))}


def run_case(case: LabelledPair, detectors: Sequence[Detector]) -> CaseResult:
    """Every detector's outcome on one labelled pair."""
    outcomes: dict[str, Outcome] = {}
    for det in detectors:
        outcomes.update(ask(det, case.a_path, case.b_path))
    return CaseResult(case.id, case.category, case.label, case.a_path, case.b_path, outcomes)


def run_bench(cases: Sequence[LabelledPair], detectors: Sequence[Detector],
              progress: ProgressFn | None = None) -> BenchResult:
    """Score ``detectors`` on ``cases``; ``progress(step, done, total)`` is called after each pair."""
    results = []
    for i, case in enumerate(cases):
        results.append(run_case(case, detectors))
        if progress is not None:
            progress("pairs", i + 1, len(cases))
    calibrated, note = calibrate_attn_std(results)
    return summarise(calibrated, notes=[note] if any("attn_std" in c.outcomes for c in results) else [])


def load_suite(root: str | Path, quick: bool) -> list[LabelledPair]:
    """The forge's labelled suite under ``root`` (built on first use, then read from the cache)."""
    from heredity.errors import require

    require("torch", "forge", "building the benchmark suite")
    from heredity.forge.suite import build_suite

    return list(build_suite(root, quick=quick))
