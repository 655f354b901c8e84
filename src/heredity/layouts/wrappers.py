"""Wrapper prefixes: a family's names stored under a prefix some other code added.

sentence-transformers saves BERT as ``0.auto_model.embeddings...`` (``model.0.auto_model.`` in ONNX
exports), multimodal models keep their language model under ``model.language_model.`` or
``language_model.``, PEFT under ``base_model.model.``, DDP under ``module.``, ``torch.compile`` under
``_orig_mod.``.  Rather than list these, the prefix is found: for every dotted prefix of every stored
key, count the names a table matches once that prefix is removed; the prefix under which the table
matches most names wins (ties: the one under which names match as stored, without the table adding
or stripping its own prefixes; then the shorter), provided at least half of the names it maps are
under it: a wrapper holds the model, not one stray tensor (DeepSeek-V3's multi-token-prediction
layer ``model.layers.61.shared_head.norm.weight`` is not a model wrapped in ``model.layers.61.shared_head.``).  Names outside the prefix are still matched as
they are (a multimodal checkpoint's ``lm_head.weight`` often sits at the top).

Everything is counted over distinct keys (names with their numbers replaced by ``#``), so a
100,000-tensor inventory costs a few dozen lookups per table, not 100,000.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from heredity.layouts.matching import NameIndex

KeyCounts = Counter[tuple[str, int]]  # (key, how many numbers) -> how many stored names have it


def key_counts(split: Iterable[tuple[str, list[int]]]) -> KeyCounts:
    return Counter((key, len(numbers)) for key, numbers in split)


@dataclass(frozen=True)
class Fit:
    """How well one table explains an inventory under one wrapper prefix (in key form)."""

    key_prefix: str  # "" (names as stored) or e.g. "model.#.auto_model."
    hits: int  # names that map to an entry
    direct: int  # of those, names matched without the table adding or stripping one of its prefixes

    @property
    def score(self) -> tuple[int, int, int]:
        return (self.hits, self.direct, -len(self.key_prefix))


def _hit(index: NameIndex, key: str, count: int) -> tuple[bool, bool]:
    slot = index.lookup(key, count)
    found = slot is not None and slot.entry is not None
    return found, found and slot is not None and slot.direct


MIN_SHARE = 0.01  # a wrapper prefix holds at least this share of the names (bounds the search)
MAX_DEPTH = 6  # dotted segments a wrapper prefix may have ("model.0.auto_model." has 3); hostile
# names thousands of segments deep must not cost a quadratic number of prefixes


def candidate_prefixes(counts: KeyCounts) -> frozenset[str]:
    """Key prefixes (whole dotted segments) that hold at least :data:`MIN_SHARE` of the names: only
    these are tried, so names with thousands of distinct keys do not cost thousands of lookups each."""
    held: Counter[str] = Counter()
    for (key, _), n in counts.items():
        parts = key.split(".", MAX_DEPTH)
        for i in range(1, min(len(parts), MAX_DEPTH + 1)):
            held[".".join(parts[:i]) + "."] += n
    least = max(1.0, MIN_SHARE * sum(counts.values()))
    return frozenset(p for p, n in held.items() if n >= least)


def best_fit(index: NameIndex, counts: KeyCounts, candidates: frozenset[str] | None = None) -> Fit:
    """The wrapper prefix (among ``candidates``, default :func:`candidate_prefixes`) under which
    ``index``'s table matches the most names."""
    if candidates is None:
        candidates = candidate_prefixes(counts)
    hits = direct = 0
    gain: Counter[str] = Counter()  # hits a prefix adds (names under it are tried under it first)
    gain_direct: Counter[str] = Counter()  # and how it changes the names matched as stored (may be < 0)
    inside: Counter[str] = Counter()  # names that match under the prefix
    for (key, count), n in counts.items():
        found, straight = _hit(index, key, count)
        hits += n * found
        direct += n * straight
        parts = key.split(".", MAX_DEPTH)
        for i in range(1, min(len(parts), MAX_DEPTH + 1)):
            head = parts[:i]
            prefix = ".".join(head) + "."
            if prefix not in candidates:
                continue
            under, under_straight = _hit(index, ".".join(parts[i:]), count - head.count("#"))
            if under:
                gain[prefix] += n * (not found)
                gain_direct[prefix] += n * (under_straight - straight)
                inside[prefix] += n
    best = Fit("", hits, direct)
    for prefix in gain:
        fit = Fit(prefix, hits + gain[prefix], direct + gain_direct[prefix])
        if fit.score > best.score and 2 * inside[prefix] >= fit.hits:  # a wrapper holds most of the model
            best = fit
    return best


def literal_prefix(key_prefix: str, names: Iterable[tuple[str, str]]) -> str:
    """The stored prefix for a key prefix: itself without numbers, else the commonest spelling among
    ``(name, key)`` pairs whose key starts with it (``model.#.auto_model.`` -> ``model.0.auto_model.``)."""
    if "#" not in key_prefix.split("."):
        return key_prefix
    depth = key_prefix.count(".")
    spellings = Counter(
        ".".join(name.split(".")[:depth]) + "." for name, key in names if key.startswith(key_prefix)
    )
    return spellings.most_common(1)[0][0] if spellings else key_prefix
