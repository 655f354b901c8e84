"""The contract every evidence test follows, shaped like a scikit-learn estimator.

Parameters go in ``__init__`` (with a ``seed`` for anything random); ``run(a, b)`` computes and returns
:class:`~heredity.results.Evidence` and never prints.  :meth:`EvidenceTest.evaluate` is what callers
use: it times ``run``, turns :class:`~heredity.errors.NotApplicableError` into a not-applicable
Evidence with the reason, and records which stored tensors the test read.
"""

from __future__ import annotations

import abc
import dataclasses
import time
from typing import Any, ClassVar

from heredity.errors import NotApplicableError
from heredity.evidence.features import Features, ModelFeatures
from heredity.results import Evidence


class EvidenceTest(abc.ABC):
    """One named test of lineage between two models (or fingerprints)."""

    name: ClassVar[str]
    descriptive: ClassVar[bool] = False  # True: reported, never used by the verdict
    needs_weights: ClassVar[bool] = False  # True: not applicable to fingerprints

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    @abc.abstractmethod
    def run(self, a: Features, b: Features) -> Evidence:
        """Compute the evidence. Raise NotApplicableError (with the reason) when it cannot run."""

    def evaluate(self, a: Features, b: Features) -> Evidence:
        """Run with timing, not-applicable handling and a record of the tensors read."""
        before = (_read_log(a), _read_log(b))
        start = time.perf_counter()
        try:
            ev = self.run(a, b)
        except NotApplicableError as exc:
            ev = self.not_applicable(exc.message)
        seconds = time.perf_counter() - start
        read = {"a": _touched(a, before[0]), "b": _touched(b, before[1])}
        detail = dict(ev.detail)
        detail.setdefault("tensors_read", read)
        return dataclasses.replace(ev, seconds=seconds, detail=detail, descriptive=self.descriptive)

    def not_applicable(self, reason: str) -> Evidence:
        return Evidence(test=self.name, applicable=False, descriptive=self.descriptive, reason=reason,
                        summary=f"not applicable: {reason}")

    def evidence(self, statistic: float, p_value: float | None, summary: str, **detail: Any) -> Evidence:
        """Shorthand for an applicable result."""
        return Evidence(test=self.name, applicable=True, statistic=float(statistic), p_value=p_value,
                        descriptive=self.descriptive, summary=summary, detail=detail)


def _read_log(f: Features) -> dict[str, int]:
    return dict(f.model.read_log) if isinstance(f, ModelFeatures) else {}


def _touched(f: Features, before: dict[str, int]) -> list[str]:
    """Stored tensors this test read bytes of (vectors cached by an earlier test are not re-read)."""
    return sorted(n for n, b in _read_log(f).items() if b > before.get(n, 0))
