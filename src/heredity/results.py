"""Plain, frozen result data shared by the evidence tests, the verdict, the renderers and the bench.

Nothing here computes statistics or prints; renderers in :mod:`heredity.report` turn these into
terminal tables, JSON (``heredity.compare/1``) and HTML.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from heredity.plotdata import Plot

VerdictLabel = Literal["related", "independent", "inconclusive"]

COMPARE_SCHEMA = "heredity.compare/1"


class Exclusion(enum.StrEnum):
    """Why a test did not apply to a pair (``Evidence.excluded``)."""

    MISSING = "missing_tensors"  # a model lacks the tensors the test reads
    STRUCTURE = "structure"  # the architecture has no such part (no experts, no gated MLP, too few layers)
    SHAPES = "shapes"  # the tensors exist but their shapes or sizes do not line up
    NO_SIGNAL = "no_signal"  # only constant tensors (fresh norms, zero biases): nothing to compare
    FINGERPRINT = "fingerprint"  # a fingerprint side does not hold what the test needs
    NOT_SELECTED = "not_selected"  # the caller's plan did not include the test
    SETTLED = "settled"  # the adaptive plan stopped: the verdict was already decided
    OVER_BUDGET = "over_budget"  # the test would read more than the plan allows


@dataclass(frozen=True)
class Power:
    """What a test that ran could have detected.

    ``main_weights`` is true when the test ran on enough of the main weights that its silence means
    something: only such tests let the verdict say ``independent``.  ``statement`` says, in words, what
    the test would have detected (e.g. how many agreeing neurons reach the related threshold)."""

    main_weights: bool
    statement: str

    def to_dict(self) -> dict[str, Any]:
        return {"main_weights": self.main_weights, "statement": self.statement}


@dataclass(frozen=True)
class Reads:
    """What one test read from each side: stored bytes declared before reading and actually read, and
    the stored tensors it touched (``"a"``/``"b"`` keys)."""

    declared: Mapping[str, int] = field(default_factory=dict)
    read: Mapping[str, int] = field(default_factory=dict)
    tensors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"declared_bytes": dict(self.declared), "bytes_read": dict(self.read),
                "tensors": {k: list(v) for k, v in self.tensors.items()}}


@dataclass(frozen=True)
class Evidence:
    """What one named test found.

    ``statistic`` and ``p_value`` are ``None`` when the test was not applicable; ``excluded`` then says
    why as a kind and ``reason`` in words.  ``p_value`` is valid under independence unless
    ``descriptive`` is true (descriptive tests are reported, never used in the verdict).  ``power``
    says what the test could have detected and whether it ran on the main weights; ``plots`` are what
    the report draws; ``compares`` is what the test compares, in words; ``context`` an optional
    paragraph on how to read it.  ``detail`` is JSON-serialisable (per-layer values, groups, ...) and
    is never interpreted by the verdict or the renderers.
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
    power: Power | None = None
    excluded: Exclusion | None = None
    compares: str = ""
    context: str = ""
    plots: tuple[Plot, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)  # the configured test's parameters
    reads: Reads = field(default_factory=Reads)

    def __post_init__(self) -> None:
        if self.p_value is not None and not (0.0 <= self.p_value <= 1.0) and not math.isnan(self.p_value):
            raise ValueError(f"{self.test}: p-value {self.p_value} outside [0, 1]")
        if not self.applicable and self.excluded is None:
            raise ValueError(f"{self.test}: a test that did not apply must say why (excluded=Exclusion...)")

    @property
    def votes(self) -> bool:
        """Whether this evidence takes part in the verdict."""
        return self.applicable and not self.descriptive and self.p_value is not None

    @property
    def powerful(self) -> bool:
        """Whether it ran with real power on the main weights (its silence supports `independent`)."""
        return self.votes and self.power is not None and self.power.main_weights

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "applicable": self.applicable,
            "statistic": _num(self.statistic),
            "p_value": _num(self.p_value),
            "descriptive": self.descriptive,
            "reason": self.reason,
            "excluded": None if self.excluded is None else self.excluded.value,
            "summary": self.summary,
            "compares": self.compares,
            "power": None if self.power is None else self.power.to_dict(),
            "params": _jsonable(self.params),
            "reads": self.reads.to_dict(),
            "seconds": round(self.seconds, 4),
            "detail": _jsonable(self.detail),
            "plots": [p.to_dict() for p in self.plots],
            "context": self.context,
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
class PlanRecord:
    """How the evidence plan ran: ``mode`` (``adaptive`` or ``thorough``), the tests in the order they
    ran, the test after which the verdict was settled (adaptive plans that stopped early), and how many
    tests the verdict's Holm correction counted when that differs from the tests that voted."""

    mode: str = "thorough"
    order: tuple[str, ...] = ()
    settled_by: str | None = None
    corrected_for: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "order": list(self.order), "settled_by": self.settled_by,
                "corrected_for": self.corrected_for}


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
    nonfinite: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # side -> tensor -> NaN/Inf count
    plan: PlanRecord = field(default_factory=PlanRecord)

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
            "nonfinite": {k: dict(v) for k, v in self.nonfinite.items()},
            "plan": self.plan.to_dict(),
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
