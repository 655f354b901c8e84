"""The evidence tests heredity knows, and the default plan: one ordered list of configured instances.

Adding a test is one module plus one entry in :data:`TESTS`.  Callers choose tests and parameters by
building instances (``compare(a, b, tests=[VectorsTest(), MatchingTest(max_rows=256)])``); names and
parameter strings are turned into instances only at the command-line edge (:func:`parse`).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from heredity.errors import UsageError
from heredity.evidence.attn_std import AttnStdTest
from heredity.evidence.base import EvidenceTest
from heredity.evidence.embeddings import EmbeddingsTest
from heredity.evidence.experts import ExpertsTest
from heredity.evidence.identical import IdenticalTest
from heredity.evidence.layers import LayersTest
from heredity.evidence.matching import MatchingTest
from heredity.evidence.neurons import NeuronsTest
from heredity.evidence.vectors import VectorsTest

#: Every test, in the order the default plan runs them: strongest and cheapest first, descriptive last.
TESTS: tuple[type[EvidenceTest], ...] = (IdenticalTest, VectorsTest, EmbeddingsTest, MatchingTest, NeuronsTest, ExpertsTest,
                                         LayersTest, AttnStdTest)


def default_plan(seed: int = 0) -> list[EvidenceTest]:
    """One default-configured instance of every test, in run order."""
    return [cls(seed=seed) for cls in TESTS]


def names() -> list[str]:
    return [cls.name for cls in TESTS]


def by_name(name: str) -> type[EvidenceTest]:
    """The test class called ``name``; UsageError lists the known names otherwise."""
    for cls in TESTS:
        if cls.name == name:
            return cls
    raise UsageError(f"unknown test '{name}'", fix=f"choose from: {', '.join(names())}")


def parse(specs: Sequence[str], seed: int = 0) -> list[EvidenceTest]:
    """Instances from CLI specs: ``name`` or ``name:param=value[:param=value...]``; a spec may also be a
    comma-separated list of them.  Values are converted to the type of the parameter's default."""
    out: list[EvidenceTest] = []
    for spec in specs:
        for one in (s.strip() for s in spec.split(",")):
            if one:
                out.append(_one(one, seed))
    return out


def _one(spec: str, seed: int) -> EvidenceTest:
    name, *assignments = spec.split(":")
    cls = by_name(name.strip())
    defaults = {n: p.default for n, p in inspect.signature(cls.__init__).parameters.items() if n != "self"}
    kwargs: dict[str, Any] = {"seed": seed}
    for item in assignments:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or key not in defaults:
            known = ", ".join(k for k in defaults if k != "seed") or "none"
            raise UsageError(f"test '{name}': bad parameter '{item}'", fix=f"use {name}:NAME=VALUE with NAME one of: {known}")
        kwargs[key] = _convert(name, key, value.strip(), defaults[key])
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise UsageError(f"test '{name}': {exc}", fix="see `heredity compare --help`") from None


def _convert(test: str, key: str, value: str, default: Any) -> Any:
    kind = type(default)
    try:
        if kind is bool:
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes")
        return kind(value)
    except ValueError:
        raise UsageError(f"test '{test}': {key}={value!r} is not a valid {kind.__name__}",
                         fix=f"give {key} as a {kind.__name__}") from None
