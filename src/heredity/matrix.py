"""Pairwise comparison of many models, and the lineage tree that the p-values suggest, as plain data.

Each model is opened (its features extracted) once, then every pair is compared, so N models cost N
reads plus N(N-1)/2 comparisons of already-extracted features.

The lineage tree is a maximum spanning forest on edge weight ``-log10 p`` (Kruskal): each model joins
the model it is most strongly tied to, and only pairs whose verdict is ``related`` become edges, so
independent models stay separate roots instead of being forced into one tree.  P-values cannot say
which side is the parent, so each component is rooted at the model listed first on the command line
(list base models first); the edges themselves are symmetric statements.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from heredity.errors import UsageError
from heredity.results import Comparison
from heredity.stats import neg_log10_p

if TYPE_CHECKING:
    from heredity.evidence.base import EvidenceTest

MATRIX_SCHEMA = "heredity.matrix/1"
ProgressFn = Callable[[str, int, int], None]


class Engine(Protocol):
    """What the matrix needs from the comparison engine: open once, compare opened models."""

    def open(self, source: str) -> Any: ...

    def compare(self, a: Any, b: Any, *, tests: Sequence[EvidenceTest] | None, seed: int) -> Comparison: ...


@dataclass(frozen=True)
class TreeEdge:
    """One edge of the lineage forest: ``child`` is tied to ``parent`` with this combined p-value."""

    parent: str
    child: str
    p_value: float
    weight: float  # -log10 p, clipped at P_FLOOR

    def to_dict(self) -> dict[str, Any]:
        return {"parent": self.parent, "child": self.child, "p_value": self.p_value, "weight": round(self.weight, 3)}


@dataclass(frozen=True)
class MatrixResult:
    """All pairwise comparisons of ``names`` and the lineage forest built from them."""

    names: tuple[str, ...]
    pairs: Mapping[tuple[int, int], Comparison]  # (i, j) with i < j
    edges: tuple[TreeEdge, ...] = ()
    roots: tuple[str, ...] = ()
    version: str = ""
    command: str = ""
    extras: Mapping[str, Any] = field(default_factory=dict)

    def pair(self, i: int, j: int) -> Comparison | None:
        return None if i == j else self.pairs.get((min(i, j), max(i, j)))

    def p_matrix(self) -> list[list[float | None]]:
        """Combined p-value of every pair (None on the diagonal and where no test ran)."""
        n = len(self.names)
        return [[(c.verdict.p_value if (c := self.pair(i, j)) else None) for j in range(n)] for i in range(n)]

    def label_matrix(self) -> list[list[str | None]]:
        n = len(self.names)
        return [[(c.verdict.label if (c := self.pair(i, j)) else None) for j in range(n)] for i in range(n)]

    def children(self, name: str) -> list[TreeEdge]:
        return [e for e in self.edges if e.parent == name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": MATRIX_SCHEMA,
            "models": list(self.names),
            "p_values": self.p_matrix(),
            "verdicts": self.label_matrix(),
            "tree": {"roots": list(self.roots), "edges": [e.to_dict() for e in self.edges]},
            "pairs": [c.to_dict() for _, c in sorted(self.pairs.items())],
            "version": self.version,
            "command": self.command,
        }


def weight(p: float) -> float:
    """Edge weight ``-log10 p`` (clipped at :data:`heredity.stats.P_FLOOR`); larger means more strongly tied."""
    return neg_log10_p(p)


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def spanning_forest(n: int, pairs: Mapping[tuple[int, int], Comparison]) -> list[tuple[int, int, float]]:
    """Kruskal on ``-log10 p`` over related pairs: ``(i, j, p)`` edges, strongest first (ties by index)."""
    candidates = sorted(
        ((weight(c.verdict.p_value), i, j, c.verdict.p_value) for (i, j), c in pairs.items()
         if c.verdict.label == "related" and c.verdict.p_value is not None),
        key=lambda t: (-t[0], t[1], t[2]),
    )
    parent = list(range(n))
    chosen = []
    for _, i, j, p in candidates:
        ri, rj = _find(parent, i), _find(parent, j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
            chosen.append((i, j, p))
    return chosen


def orient(names: Sequence[str], undirected: list[tuple[int, int, float]]) -> tuple[tuple[TreeEdge, ...], tuple[str, ...]]:
    """Root each component at its first-listed model and direct edges away from it (breadth first)."""
    adjacency: dict[int, list[tuple[int, float]]] = {i: [] for i in range(len(names))}
    for i, j, p in undirected:
        adjacency[i].append((j, p))
        adjacency[j].append((i, p))
    seen: set[int] = set()
    edges: list[TreeEdge] = []
    roots: list[str] = []
    for root in range(len(names)):
        if root in seen:
            continue
        roots.append(names[root])
        seen.add(root)
        queue = [root]
        while queue:
            node = queue.pop(0)
            for other, p in sorted(adjacency[node]):
                if other not in seen:
                    seen.add(other)
                    queue.append(other)
                    edges.append(TreeEdge(names[node], names[other], p, weight(p)))
    return tuple(edges), tuple(roots)


def compare_all(sources: Sequence[str], engine: Engine, *, tests: Sequence[EvidenceTest] | None = None, seed: int = 0,
                progress: ProgressFn | None = None) -> MatrixResult:
    """Open each model once, compare every pair, and build the lineage forest."""
    if len(sources) < 2:
        raise UsageError("matrix needs at least two models", fix="give two or more MODEL arguments")
    if len(set(sources)) != len(sources):
        raise UsageError("the same model is listed twice", fix="list each model once")
    report = progress or (lambda step, done, total: None)
    opened = []
    for k, source in enumerate(sources):
        opened.append(engine.open(source))
        report("opening models", k + 1, len(sources))
    index = [(i, j) for i in range(len(sources)) for j in range(i + 1, len(sources))]
    pairs: dict[tuple[int, int], Comparison] = {}
    for k, (i, j) in enumerate(index):
        pairs[(i, j)] = engine.compare(opened[i], opened[j], tests=tests, seed=seed)
        report("comparing pairs", k + 1, len(index))
    edges, roots = orient(sources, spanning_forest(len(sources), pairs))
    version = next(iter(pairs.values())).version
    return MatrixResult(tuple(sources), pairs, edges, roots, version=version)


class LibraryEngine:
    """The default :class:`Engine`: :mod:`heredity.compare`, with each model's features opened once
    (``as_features``) and reused by every pair it takes part in."""

    def open(self, source: str) -> Any:
        from heredity.compare import as_features

        return as_features(source)

    def compare(self, a: Any, b: Any, *, tests: Sequence[EvidenceTest] | None, seed: int) -> Comparison:
        from heredity.compare import compare

        return compare(a, b, tests=tests, seed=seed)
