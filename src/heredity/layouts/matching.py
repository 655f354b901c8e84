"""Look up stored tensor names in a family table in O(1) per name.

Every template is expanded once into a *key*: its dotted name with ``{layer}``/``{expert}`` replaced by
``#``.  A stored name gets the same treatment (each all-digit segment becomes ``#``), so one dict lookup
finds the entry, and the digits it replaced give the layer and expert indices in template order.
When the full name does not match, the table's optional prefixes are added (``model.`` for a base
model saved on its own) or stripped (``bert.`` of a task-head wrapper).

Why keys and not names: a 100,000-tensor inventory (DeepSeek-V3) has a few dozen distinct keys, so a
lookup is memoised per key (:meth:`NameIndex.lookup`) and detection counts keys, not names.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from heredity.layouts.schema import Entry, Layout, LayoutError

_MAX_INDEX_DIGITS = 7  # a "layer 10**30" segment is not a layer index; treat it as text


@dataclass(frozen=True)
class Match:
    """A stored name resolved against a table."""

    entry: Entry
    layer: int | None
    expert: int | None
    template: str


@dataclass(frozen=True)
class Slot:
    """What a key resolves to in one table."""

    entry: Entry | None  # None for ignored (non-weight) names
    template: str
    order: tuple[str, ...]  # placeholder names in template order, e.g. ("layer", "expert")
    direct: bool = True  # matched as stored, without adding or stripping one of the table's prefixes
    layer_at: int | None = field(init=False)  # position of the layer / expert index among the numbers
    expert_at: int | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layer_at", self.order.index("layer") if "layer" in self.order else None)
        object.__setattr__(self, "expert_at", self.order.index("expert") if "expert" in self.order else None)


def split_numbers(name: str) -> tuple[str, list[int]]:
    """``"model.layers.3.mlp.experts.7.w1"`` -> ``("model.layers.#.mlp.experts.#.w1", [3, 7])``."""
    parts = name.split(".")
    at = [i for i, p in enumerate(parts) if p.isdigit() and p.isascii() and len(p) <= _MAX_INDEX_DIGITS]
    if not at:
        return name, []
    numbers = [int(parts[i]) for i in at]
    for i in at:
        parts[i] = "#"
    return ".".join(parts), numbers


_DIGITS_AS_HASH = str.maketrans("0123456789", "#" * 10)
_MAX_PATTERNS = 4096  # distinct digit patterns remembered per call (hostile inventories have more)
_Plan = tuple[str, tuple[tuple[int, int], ...]] | None  # (key, where the numbers are) or per name


def digit_patterns(names: Sequence[str]) -> list[str] | None:
    """Each name with its ASCII digits written ``#`` (``layers.17.w1`` -> ``layers.##.w#``), in one
    C-level pass over all names; None when some name holds ``#`` or a newline itself (then a pattern
    would not say where the digits were).  Names with one pattern differ only in their digits, so a
    decision that depends on digits only through where they are is made once per pattern."""
    joined = "\n".join(names)
    if not names or "#" in joined or joined.count("\n") != len(names) - 1:
        return None
    return joined.translate(_DIGITS_AS_HASH).split("\n")


def _plan(pattern: str) -> _Plan:
    """The key of every name with this digit pattern and the character ranges of its numbers, or None
    when digits sit inside a segment (``w1``) or run past :data:`_MAX_INDEX_DIGITS`: those names keep
    their digits in the key, so it is not shared and they are split one by one."""
    parts = pattern.split(".")
    at = 0
    where = []
    for i, part in enumerate(parts):
        if "#" in part:
            if part.count("#") != len(part) or len(part) > _MAX_INDEX_DIGITS:
                return None
            where.append((at, at + len(part)))
            parts[i] = "#"
        at += len(part) + 1
    return ".".join(parts), tuple(where)


def split_names(names: Sequence[str]) -> list[tuple[str, str, list[int]]]:
    """``[(name, *split_numbers(name)) for name in names]``, deciding the key once per digit pattern
    (a DeepSeek-V3 header: 95,000 names, ~150 patterns); each name then costs its numbers' slices."""
    patterns = digit_patterns(names)
    if patterns is None:
        return [(name, *split_numbers(name)) for name in names]
    if len(names) >= _BULK_FROM:
        bulk = _split_in_bulk(names, patterns)
        if bulk is not None:
            return bulk
    plans: dict[str, _Plan] = {}
    out: list[tuple[str, str, list[int]]] = []
    for name, pattern in zip(names, patterns, strict=True):
        plan = plans.get(pattern, _UNSEEN)
        if plan is _UNSEEN:
            plan = _plan(pattern)
            if len(plans) < _MAX_PATTERNS:
                plans[pattern] = plan
        if plan is None:
            out.append((name, *split_numbers(name)))
        elif len(plan[1]) == 1:  # the common cases spelled out: no comprehension per name
            (a, b), = plan[1]
            out.append((name, plan[0], [int(name[a:b])]))
        elif len(plan[1]) == 2:
            (a, b), (c, d) = plan[1]
            out.append((name, plan[0], [int(name[a:b]), int(name[c:d])]))
        else:
            out.append((name, plan[0], [int(name[a:b]) for a, b in plan[1]]))
    return out


_UNSEEN: Any = object()
_BULK_FROM = 1000  # names; below, the setting up costs more than it saves
_ONLY_DIGITS = bytes(c if 48 <= c <= 57 else 32 for c in range(256))  # ASCII: digits stay, all else a space


def _split_in_bulk(names: Sequence[str], patterns: list[str]) -> list[tuple[str, str, list[int]]] | None:
    """:func:`split_names` with no Python step per name, when the names are ASCII and every pattern
    has its digits only in whole number segments (as DeepSeek-V3's do): then the digit runs of all
    names, in order, are all their numbers in order, and each name takes as many as its pattern
    holds.  None otherwise."""
    plans = {pattern: _plan(pattern) for pattern in set(patterns)}
    if any(plan is None for plan in plans.values()):
        return None
    joined = "\n".join(names)
    if not joined.isascii():
        return None
    keys = {pattern: plan[0] for pattern, plan in plans.items() if plan is not None}
    counts = {pattern: len(plan[1]) for pattern, plan in plans.items() if plan is not None}
    digits = list(map(int, joined.encode("ascii").translate(_ONLY_DIGITS).split()))
    ends = list(accumulate(map(counts.__getitem__, patterns)))
    if ends[-1] != len(digits):
        return None  # cannot happen for clean patterns; the per-name split decides if it does
    numbers = map(digits.__getitem__, map(slice, [0, *ends[:-1]], ends))
    return list(zip(names, map(keys.__getitem__, patterns), numbers, strict=True))


def template_key(template: str) -> tuple[str, tuple[str, ...]]:
    parts = template.split(".")
    order = tuple(p[1:-1] for p in parts if p in ("{layer}", "{expert}"))
    key = ".".join("#" if p in ("{layer}", "{expert}") else p for p in parts)
    return key, order


def slot_match(slot: Slot, numbers: list[int]) -> Match:
    """The match of a name whose key found ``slot``, its layer / expert taken from ``numbers``."""
    assert slot.entry is not None
    layer = None if slot.layer_at is None else numbers[slot.layer_at]
    expert = None if slot.expert_at is None else numbers[slot.expert_at]
    return Match(slot.entry, layer, expert, slot.template)


class NameIndex:
    """Stored name (or key) -> :class:`Match` for one layout."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._slots: dict[str, Slot] = {}
        for entry in layout.entries:
            for template in entry.names:
                self._add(template, entry)
        for template in layout.ignore:
            self._add(template, None)
        for prefix in (*layout.add_prefixes, *layout.strip_prefixes):
            if split_numbers(prefix)[1] or not prefix.endswith("."):
                raise LayoutError(
                    f"prefix '{prefix}' must be dotted words ending in '.'",
                    path=layout.source,
                    fix="fix the table",
                )
        self.lookup = functools.lru_cache(maxsize=4096)(self._lookup)

    def _add(self, template: str, entry: Entry | None) -> None:
        key, order = template_key(template)
        self._slots.setdefault(key, Slot(entry, template, order))

    def _lookup(self, key: str, count: int) -> Slot | None:
        """The slot of a stored key with ``count`` numbers: as stored, with a table prefix added, or
        with one stripped (table prefixes hold no numbers, so keys and names agree on them)."""
        slot = self._slots.get(key)
        if slot is not None and len(slot.order) == count:
            return slot
        for p in self.layout.add_prefixes:
            slot = None if key.startswith(p) else self._slots.get(p + key)
            if slot is not None and len(slot.order) == count:
                return Slot(slot.entry, slot.template, slot.order, direct=False)
        for p in self.layout.strip_prefixes:
            slot = self._slots.get(key[len(p) :]) if key.startswith(p) and len(key) > len(p) else None
            if slot is not None and len(slot.order) == count:
                return Slot(slot.entry, slot.template, slot.order, direct=False)
        return None

    def resolve(self, key: str, numbers: list[int]) -> Match | None:
        """A split stored name (see :func:`split_numbers`) resolved, or None (unknown or ignored)."""
        slot = self.lookup(key, len(numbers))
        if slot is None or slot.entry is None:
            return None
        return slot_match(slot, numbers)

    def match(self, name: str) -> Match | None:
        """The entry a stored name belongs to, or None (unknown or ignored)."""
        return self.resolve(*split_numbers(name))

    def is_ignored(self, name: str) -> bool:
        """True for names the table knows are not weights (RoPE tables, attention masks, position ids)."""
        key, numbers = split_numbers(name)
        slot = self.lookup(key, len(numbers))
        return slot is not None and slot.entry is None
