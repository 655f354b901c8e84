"""Plain, frozen result data shared by the evidence tests, the verdict, the renderers and the bench.

Nothing here computes statistics or prints; renderers in :mod:`heredity.report` turn these into
terminal tables, JSON (``heredity.compare/1``) and HTML.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

VerdictLabel = Literal["related", "independent", "inconclusive"]

COMPARE_SCHEMA = "heredity.compare/1"


@dataclass(frozen=True)
class Evidence:
    """What one named test found.

    ``statistic`` and ``p_value`` are ``None`` when the test was not applicable; ``reason`` then says
    why.  ``p_value`` is valid under independence unless ``descriptive`` is true (descriptive tests are
    reported, never used in the verdict).  ``detail`` is JSON-serialisable (per-layer values, null
    samples, alignment paths, ...).
    """

    test: str
    applicable: bool
    statistic: float | None = None
    p_value: float | None = None
    descriptive: bool = False
    reason: str | None = None
    summary: str = ""  # one line a person can read: what was compared, what was found
    detail: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.p_value is not None and not (0.0 <= self.p_value <= 1.0) and not math.isnan(self.p_value):
            raise ValueError(f"{self.test}: p-value {self.p_value} outside [0, 1]")

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "applicable": self.applicable,
            "statistic": _num(self.statistic),
            "p_value": _num(self.p_value),
            "descriptive": self.descriptive,
            "reason": self.reason,
            "summary": self.summary,
            "seconds": round(self.seconds, 4),
            "detail": _jsonable(self.detail),
        }


@dataclass(frozen=True)
class Verdict:
    """The combined answer. ``p_value`` is the multiplicity-adjusted combined p-value (None if no test)."""

    label: VerdictLabel
    p_value: float | None
    sentence: str  # the verdict in one plain sentence
    reason: str  # why this label (which test decided, or what was missing)
    power: str = ""  # what the tests that ran would have detected
    threshold: float = 1e-6  # p-value below which `related` is said

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "p_value": _num(self.p_value),
            "sentence": self.sentence,
            "reason": self.reason,
            "power": self.power,
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class ModelSummary:
    """A short description of one side of a comparison."""

    source: str
    format: str
    family: str
    layers: int | None = None
    hidden_size: int | None = None
    params: int | None = None
    experts: int | None = None
    inferred: bool = False
    is_fingerprint: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Comparison:
    """Everything ``heredity compare`` found about one pair."""

    a: ModelSummary
    b: ModelSummary
    evidence: tuple[Evidence, ...]
    verdict: Verdict
    tensors_read: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # "a"/"b" -> names
    bytes_read: Mapping[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    version: str = ""
    command: str = ""  # the command line that produced it (provenance)
    extras: Mapping[str, Any] = field(default_factory=dict)  # plot data, hashes, ...

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": COMPARE_SCHEMA,
            "verdict": self.verdict.label,
            "p_value": _num(self.verdict.p_value),
            "verdict_detail": self.verdict.to_dict(),
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "evidence": [e.to_dict() for e in self.evidence],
            "tensors_read": {k: list(v) for k, v in self.tensors_read.items()},
            "tensor_sha256": _jsonable(self.extras.get("tensor_sha256", {})),
            "tensor_rows": _jsonable(self.extras.get("tensor_rows", {})),
            "bytes_read": dict(self.bytes_read),
            "seconds": round(self.seconds, 4),
            "version": self.version,
            "command": self.command,
        }


def _num(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays and tuples inside ``detail`` into JSON types."""
    import numpy as np

    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    return obj
