"""The contract every evidence test follows, shaped like a scikit-learn estimator.

A test is a configured instance: parameters go in ``__init__`` (with a ``seed`` for anything random)
and are reported by :meth:`EvidenceTest.get_params`.  Each test class states what it ``compares``, in
words.  Before reading anything a test declares what it will read (:meth:`EvidenceTest.reads`: roles x
layers x rows, whose stored bytes come from the inventory), so a plan can order tests by cost.
``run(a, b)`` computes and returns :class:`~heredity.results.Evidence` with its :class:`Power` (what it
could have detected, and whether it ran on the main weights) and its plot payloads; it never prints.

:meth:`EvidenceTest.evaluate` is what callers use: it times ``run``, turns
:class:`~heredity.errors.NotApplicableError` into a not-applicable Evidence with its typed reason,
records the parameters, and takes the test's slice of each side's read recorder (tensors, bytes).
"""

from __future__ import annotations

import abc
import dataclasses
import inspect
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from heredity.checkpoint.recorder import ReadEvent, tensors, unique_bytes
from heredity.errors import NotApplicableError
from heredity.evidence.features import Features, ModelFeatures
from heredity.layouts.roles import Role
from heredity.plotdata import Plot
from heredity.results import Evidence, Exclusion, Power, Reads


@dataclass(frozen=True)
class ReadItem:
    """One kind of tensor a test will read: ``role`` in ``layers`` (None: a global tensor), for each of
    ``experts`` (None: not an expert tensor), whole or only the first ``rows`` canonical rows."""

    role: Role
    layers: tuple[int | None, ...] = (None,)
    rows: int | None = None
    experts: tuple[int | None, ...] = (None,)

    def stored_bytes(self, f: Features) -> int:
        return sum(f.stored_bytes(self.role, layer, e, self.rows) for layer in self.layers for e in self.experts)


@dataclass(frozen=True)
class ReadPlan:
    """What a test declares it will read from each side, before reading (an upper estimate from the
    inventory; ``note`` says where the estimate is loose)."""

    a: tuple[ReadItem, ...] = ()
    b: tuple[ReadItem, ...] = ()
    note: str = ""

    def stored_bytes(self, a: Features, b: Features) -> dict[str, int]:
        return {"a": sum(i.stored_bytes(a) for i in self.a), "b": sum(i.stored_bytes(b) for i in self.b)}


def both(items: Sequence[ReadItem], note: str = "") -> ReadPlan:
    """The same reads on both sides."""
    return ReadPlan(tuple(items), tuple(items), note)


class EvidenceTest(abc.ABC):
    """One named test of lineage between two models (or fingerprints)."""

    name: ClassVar[str]
    compares: ClassVar[str]  # what the test compares, in words a non-expert can follow
    descriptive: ClassVar[bool] = False  # True: reported, never used by the verdict
    needs_weights: ClassVar[bool] = False  # True: not applicable to fingerprints

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)

    # -- configuration ---------------------------------------------------------------------------
    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """The parameters ``__init__`` takes, in order."""
        sig = inspect.signature(cls.__init__)
        return tuple(p for p in sig.parameters if p != "self")

    @classmethod
    def param_defaults(cls) -> dict[str, Any]:
        sig = inspect.signature(cls.__init__)
        return {n: p.default for n, p in sig.parameters.items() if n != "self"}

    def get_params(self) -> dict[str, Any]:
        """The configured parameters (each ``__init__`` argument is kept as an attribute of that name)."""
        return {n: getattr(self, n) for n in self.param_names()}

    def with_params(self, **changes: Any) -> Self:
        """A new instance with some parameters changed."""
        return type(self)(**{**self.get_params(), **changes})

    def __repr__(self) -> str:
        defaults = self.param_defaults()
        changed = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) != v)
        return f"{type(self).__name__}({changed})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EvidenceTest) and type(other) is type(self) and other.get_params() == self.get_params()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_params().items()))))

    # -- running ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def reads(self, a: Features, b: Features) -> ReadPlan:
        """What the test will read from each side, declared before reading (no tensor bytes read)."""

    @abc.abstractmethod
    def run(self, a: Features, b: Features) -> Evidence:
        """Compute the evidence. Raise NotApplicableError (with the reason) when it cannot run."""

    def declared_bytes(self, a: Features, b: Features) -> dict[str, int]:
        """Stored bytes :meth:`reads` declares per side (0 where the test cannot apply: ``run`` says why)."""
        try:
            return self.reads(a, b).stored_bytes(a, b)
        except NotApplicableError:
            return {"a": 0, "b": 0}

    def evaluate(self, a: Features, b: Features) -> Evidence:
        """Run with timing, typed not-applicable handling, parameters and a record of what was read."""
        declared = self.declared_bytes(a, b)
        marks = (_mark(a), _mark(b))
        start = time.perf_counter()
        try:
            ev = self.run(a, b)
        except NotApplicableError as exc:
            ev = self.not_applicable(exc.message, exc.why)
        seconds = time.perf_counter() - start
        events = {"a": _since(a, marks[0]), "b": _since(b, marks[1])}
        reads = Reads(declared=declared, read={s: unique_bytes(e) for s, e in events.items()},
                      tensors={s: tensors(e) for s, e in events.items()})
        return dataclasses.replace(ev, seconds=seconds, descriptive=self.descriptive, compares=self.compares,
                                   params=self.get_params(), reads=reads)

    def not_applicable(self, reason: str, why: Exclusion) -> Evidence:
        return Evidence(test=self.name, applicable=False, descriptive=self.descriptive, reason=reason,
                        excluded=why, summary=f"not applicable: {reason}", compares=self.compares,
                        params=self.get_params())

    def evidence(self, statistic: float, p_value: float | None, summary: str, *, power: Power,
                 plots: Sequence[Plot] = (), context: str = "", **detail: Any) -> Evidence:
        """Shorthand for an applicable result; ``power`` is required (descriptive tests say why their
        silence means nothing)."""
        return Evidence(test=self.name, applicable=True, statistic=float(statistic), p_value=p_value,
                        descriptive=self.descriptive, summary=summary, detail=detail, power=power,
                        plots=tuple(plots), context=context, compares=self.compares, params=self.get_params())


def _mark(f: Features) -> int:
    return f.model.recorder.mark() if isinstance(f, ModelFeatures) else 0


def _since(f: Features, mark: int) -> tuple[ReadEvent, ...]:
    return f.model.recorder.since(mark) if isinstance(f, ModelFeatures) else ()
