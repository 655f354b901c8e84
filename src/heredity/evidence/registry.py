"""The evidence tests heredity knows, in the order they run: a plain list plus a decorator."""

from __future__ import annotations

from typing import TypeVar

from heredity.errors import UsageError
from heredity.evidence.base import EvidenceTest

T = TypeVar("T", bound=type[EvidenceTest])

TESTS: list[type[EvidenceTest]] = []

#: Run order: strongest and cheapest first, descriptive last.
ORDER = ("identical", "vectors", "matching", "experts", "layers", "attn_std")


def register(cls: T) -> T:
    """Class decorator: add a test to :data:`TESTS` (names must be unique)."""
    if any(t.name == cls.name for t in TESTS):
        raise ValueError(f"evidence test '{cls.name}' registered twice")
    TESTS.append(cls)
    return cls


def names() -> list[str]:
    _load_all()
    rank = {n: i for i, n in enumerate(ORDER)}
    return sorted((t.name for t in TESTS), key=lambda n: rank.get(n, len(ORDER)))


def get(name: str) -> type[EvidenceTest]:
    """The test class called ``name``; UsageError lists the known names otherwise."""
    _load_all()
    for t in TESTS:
        if t.name == name:
            return t
    raise UsageError(f"unknown test '{name}'", fix=f"choose from: {', '.join(t.name for t in TESTS)}")


def _load_all() -> None:
    """Import the test modules (each registers itself on import)."""
    from heredity.evidence import (  # noqa: F401
        attn_std,
        experts,
        identical,
        layers,
        matching,
        vectors,
    )
