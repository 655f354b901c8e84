"""Nearest-base search: which registered models is the query derived from (or a sibling of)?

Steps:

1. **Prefilter** (cheap, over every entry): entries sharing any non-constant tensor hash with the query
   (an index lookup), the ``shortlist`` entries whose sketch (:mod:`heredity.registry.sketch`) is most
   similar to the query's, and the ``shortlist_same_shape`` most similar among entries of the query's
   exact shape signature.  Nothing is dropped for a different depth, width, expert count or family.
2. **Compare** each shortlisted entry with the query with :func:`heredity.compare.compare` on their
   fingerprints; each gives a combined p-value valid under independence.
3. **Multiplicity**: Holm over **m = every entry searched** (all entries in the registry, less any the
   caller excluded by key).  An entry the prefilter did not shortlist enters Holm with p = 1 — a valid
   (conservative) p-value whatever the prefilter saw, so the family-wise error over the whole registry
   stays controlled and a bigger registry demands stronger evidence, as it should.
4. **Labels**: a match is ``related`` only when its *adjusted* p-value is below
   :data:`heredity.verdict.RELATED_P`; ``independent`` when its comparison had a test with power and
   said independent; otherwise ``inconclusive``.

5. **Order**: by adjusted p-value; values below :data:`SATURATED` all mean "beyond doubt" (their
   differences reflect how many tests ran), so those entries are ordered by the descriptive aligned
   distance of :mod:`heredity.registry.nearest`, nearest first.

The search's own answer (:class:`Outcome`) separates *related* (some entry related), *none related*
(every compared entry was tested with power and no adjusted p-value fell below
:data:`heredity.verdict.LENIENT_P`) and *inconclusive* (something looked suspicious but not enough, or a
comparison lacked power); an empty registry is its own answer.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from heredity.fingerprint.model import Fingerprint
from heredity.registry import codec, nearest
from heredity.registry.sketch import scores, shape_signature, sketch
from heredity.registry.store import Registry, indexed_hashes
from heredity.results import Comparison
from heredity.stats import holm
from heredity.verdict import LENIENT_P, RELATED_P, voting

SEARCH_SCHEMA = "heredity.registry.search/1"
SHORTLIST = 24
SHORTLIST_SAME_SHAPE = 8
HASH_WHY = "shared tensor hash(es)"
#: Adjusted p-values below this are all "beyond doubt": their order says how many tests ran, not how close
#: the models are, so such entries are ordered by :func:`heredity.registry.nearest.distance` instead.
SATURATED = 1e-50


class Outcome(enum.StrEnum):
    RELATED = "related"  # at least one entry is related after the correction over the registry
    NONE_RELATED = "none_related"  # every compared entry was tested with power; nothing even suspicious
    INCONCLUSIVE = "inconclusive"  # not enough evidence to say either way
    EMPTY = "empty"  # the registry has no entries to search


@dataclass(frozen=True)
class Query:
    source: str
    key: str
    family: str
    shape: str
    is_fingerprint: bool  # the query was given as a fingerprint file (else a model was fingerprinted)
    registered_as: str | None = None  # the entry holding exactly this content, if any

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Match:
    """One compared entry."""

    name: str
    key: str
    source: str
    family: str
    verdict: str  # related | independent | inconclusive, on the adjusted p-value
    p_value: float | None  # the comparison's combined p-value (None: no test could run)
    p_adjusted: float  # Holm over every entry searched
    had_power: bool  # a test with power on the main weights ran
    why_shortlisted: tuple[str, ...]
    comparison: Comparison
    nearness: nearest.Nearness | None = None  # computed for related entries (orders saturated ties)

    @property
    def distance(self) -> float | None:
        return None if self.nearness is None else self.nearness.distance

    @property
    def order(self) -> tuple[float, tuple[float, bool, float], str]:
        """Sort key: adjusted p-value, where every value below SATURATED counts as equal, then nearness."""
        p = 0.0 if self.p_adjusted < SATURATED else self.p_adjusted
        near = self.nearness.order() if self.nearness is not None else (float("inf"), True, float("inf"))
        return (p, near, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "source": self.source, "verdict": self.verdict, "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "evidence": {e.test: {"applicable": e.applicable, "p_value": e.to_dict()["p_value"],
                                  "statistic": e.to_dict()["statistic"], "descriptive": e.descriptive,
                                  "summary": e.summary} for e in self.comparison.evidence},
            "key": self.key, "family": self.family, "had_power": self.had_power,
            "comparison_verdict": self.comparison.verdict.label,
            "distance": None if self.distance is None else round(self.distance, 4), "why_shortlisted": list(self.why_shortlisted),
        }


@dataclass(frozen=True)
class SearchResult:
    query: Query
    entries_searched: int  # Holm's m: every entry of the registry, less the excluded ones
    matches: tuple[Match, ...]  # every compared entry, best (smallest adjusted p) first
    outcome: Outcome
    sentence: str
    prefilter: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def related(self) -> list[Match]:
        return [m for m in self.matches if m.verdict == "related"]

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        shown = self.matches if top is None else self.matches[:top]
        return {
            "schema": SEARCH_SCHEMA, "query": self.query.to_dict(), "candidates_tested": self.entries_searched,
            "matches": [m.to_dict() for m in shown],
            "outcome": str(self.outcome), "sentence": self.sentence,
            "multiplicity": {"method": "holm", "m": self.entries_searched,
                             "m_is": "every registry entry searched; entries not compared in full enter with p=1",
                             "compared_in_full": len(self.matches),
                             "not_compared": self.entries_searched - len(self.matches)},
            "prefilter": dict(self.prefilter), "seconds": round(self.seconds, 3),
            "order": f"p_adjusted ascending; values below {SATURATED:g} count as equal and are ordered by "
                     "distance (heredity.registry.nearest; within 0.001 equal, then unpermuted first)",
        }


def query_of(fp: Fingerprint) -> Query:
    doc, arrays = codec.encode(fp)
    return Query(source=fp.source, key=codec.content_key(doc, arrays), family=fp.spec.family,
                 shape=shape_signature(fp), is_fingerprint=True)


def search(registry: Registry, fp: Fingerprint, *, exclude: Collection[str] = (), shortlist: int = SHORTLIST,
           shortlist_same_shape: int = SHORTLIST_SAME_SHAPE, seed: int = 0, query: Query | None = None) -> SearchResult:
    """Search ``registry`` for entries related to the fingerprint ``fp`` (see the module docstring)."""
    start = time.perf_counter()
    q = query or query_of(fp)
    same = registry.entry(q.key)
    if same is not None and q.registered_as is None:
        q = dataclasses.replace(q, registered_as=same.name)
    keys, shapes, sketches = registry.sketches()
    searched = [i for i, k in enumerate(keys) if k not in exclude]
    m = len(searched)
    if m == 0:
        return SearchResult(q, 0, (), Outcome.EMPTY, "The registry has no entries to search.",
                            seconds=time.perf_counter() - start)
    picked = _shortlist(registry, fp, q, [keys[i] for i in searched], [shapes[i] for i in searched],
                        sketches[searched], shortlist, shortlist_same_shape)
    compared = [_compare(registry, fp, key, why, seed) for key, why in picked.items()]
    adjusted = holm([c[1] if c[1] is not None else 1.0 for c in compared] + [1.0] * (m - len(compared)))
    matches = sorted((_match(registry, fp, key, entry_fp, comp, p, adj, picked[key])
                      for (key, p, comp, entry_fp), adj in zip(compared, adjusted, strict=False)), key=lambda x: x.order)
    outcome, sentence = _outcome(matches, m)
    prefilter = {"hash_hits": sum(any(w.endswith(HASH_WHY) for w in ws) for ws in picked.values()),
                 "shortlist": shortlist, "shortlist_same_shape": shortlist_same_shape,
                 "method": "shared tensor hashes (index) + embedding-row-norm sketch (top-k overall and "
                           "top-k of the same shape signature)"}
    return SearchResult(q, m, tuple(matches), outcome, sentence, prefilter, time.perf_counter() - start)


def _shortlist(registry: Registry, fp: Fingerprint, q: Query, keys: list[str], shapes: list[str],
               sketches: np.ndarray, k: int, k_shape: int) -> dict[str, tuple[str, ...]]:
    """key -> why it was shortlisted, in a stable order."""
    why: dict[str, list[str]] = {}
    present = set(keys)
    for key, n in sorted(registry.keys_sharing_hashes(indexed_hashes(fp)).items()):
        if key in present:
            why.setdefault(key, []).append(f"{n} {HASH_WHY}")
    s = scores(sketch(fp), sketches)
    for i in _top(s, k):
        why.setdefault(keys[i], []).append(f"sketch score {s[i]:.3f}")
    same = np.array([sh == q.shape for sh in shapes])
    if same.any():
        idx = np.flatnonzero(same)
        for j in _top(s[idx], k_shape):
            why.setdefault(keys[idx[j]], []).append(f"same shape, sketch score {s[idx[j]]:.3f}")
    return {key: tuple(dict.fromkeys(w)) for key, w in why.items()}


def _top(s: np.ndarray, k: int) -> list[int]:
    if k <= 0 or s.size == 0:
        return []
    k = min(k, s.size)
    part = np.argpartition(-s, k - 1)[:k]
    return sorted(part.tolist(), key=lambda i: (-s[i], i))


def _compare(registry: Registry, fp: Fingerprint, key: str, why: tuple[str, ...],
             seed: int) -> tuple[str, float | None, Comparison, Fingerprint]:
    from heredity.compare import compare

    entry_fp = registry.fingerprint(key)
    comp = compare(fp, entry_fp, seed=seed)
    return key, comp.verdict.p_value, comp, entry_fp


def _match(registry: Registry, fp: Fingerprint, key: str, entry_fp: Fingerprint, comp: Comparison,
           p: float | None, adj: float, why: tuple[str, ...]) -> Match:
    entry = registry.entry(key)
    assert entry is not None
    powered = any(e.powerful for e in voting(comp.evidence))
    if adj < RELATED_P:
        label = "related"
    elif comp.verdict.label == "independent":
        label = "independent"
    else:
        label = "inconclusive"
    dist = nearest.nearness(fp, entry_fp) if label == "related" else None
    return Match(entry.name, key, entry.source, entry.family, label, p, adj, powered, why, comp, dist)


def _outcome(matches: list[Match], m: int) -> tuple[Outcome, str]:
    related = [x for x in matches if x.verdict == "related"]
    if related:
        best = related[0]
        return Outcome.RELATED, (f"Related to {len(related)} registered entr{'y' if len(related) == 1 else 'ies'}; "
                                 f"nearest: {best.name} (adjusted p={best.p_adjusted:.2g} over {m} entries).")
    weak = [x for x in matches if not x.had_power]
    suspicious = [x for x in matches if x.p_adjusted < LENIENT_P]
    if not weak and not suspicious:
        return Outcome.NONE_RELATED, (f"No entry related: all {len(matches)} compared entries were tested with power "
                                      f"and none came near significance after correcting over {m} entries.")
    parts = []
    if suspicious:
        parts.append(f"{len(suspicious)} entr{'y' if len(suspicious) == 1 else 'ies'} below {LENIENT_P} "
                     f"but not below {RELATED_P} after correction")
    if weak:
        parts.append(f"{len(weak)} comparison(s) had no test with enough power")
    return Outcome.INCONCLUSIVE, "Not enough evidence to say: " + "; ".join(parts) + "."
