"""Look up stored tensor names in a family table in O(1) per name.

Every template is expanded once into a *key*: its dotted name with ``{layer}``/``{expert}`` replaced by
``#``.  A stored name gets the same treatment (each all-digit segment becomes ``#``), so one dict lookup
finds the entry, and the digits it replaced give the layer and expert indices in template order.
When the full name does not match, the table's optional prefixes are added (``model.`` for a base
model saved on its own) or stripped (``language_model.`` of a multimodal wrapper).
"""

from __future__ import annotations

from dataclasses import dataclass

from heredity.layouts.schema import Entry, Layout

_MAX_INDEX_DIGITS = 7  # a "layer 10**30" segment is not a layer index; treat it as text


@dataclass(frozen=True)
class Match:
    """A stored name resolved against a table."""

    entry: Entry
    layer: int | None
    expert: int | None
    template: str


@dataclass(frozen=True)
class _Slot:
    entry: Entry | None  # None for ignored (non-weight) names
    template: str
    order: tuple[str, ...]  # placeholder names in template order, e.g. ("layer", "expert")


def split_numbers(name: str) -> tuple[str, list[int]]:
    """``"model.layers.3.mlp.experts.7.w1"`` -> ``("model.layers.#.mlp.experts.#.w1", [3, 7])``."""
    parts = name.split(".")
    numbers: list[int] = []
    for i, p in enumerate(parts):
        if p.isascii() and p.isdigit() and len(p) <= _MAX_INDEX_DIGITS:
            numbers.append(int(p))
            parts[i] = "#"
    return ".".join(parts), numbers


def template_key(template: str) -> tuple[str, tuple[str, ...]]:
    parts = template.split(".")
    order = tuple(p[1:-1] for p in parts if p in ("{layer}", "{expert}"))
    key = ".".join("#" if p in ("{layer}", "{expert}") else p for p in parts)
    return key, order


class NameIndex:
    """Stored name -> :class:`Match` for one layout."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._slots: dict[str, _Slot] = {}
        for entry in layout.entries:
            for template in entry.names:
                self._add(template, entry)
        for template in layout.ignore:
            self._add(template, None)

    def _add(self, template: str, entry: Entry | None) -> None:
        key, order = template_key(template)
        self._slots.setdefault(key, _Slot(entry, template, order))

    def _slot(self, name: str) -> tuple[_Slot, list[int]] | None:
        for candidate in self._candidates(name):
            key, numbers = split_numbers(candidate)
            slot = self._slots.get(key)
            if slot is not None and len(numbers) == len(slot.order):
                return slot, numbers
        return None

    def _candidates(self, name: str) -> list[str]:
        out = [name]
        out += [p + name for p in self.layout.add_prefixes if not name.startswith(p)]
        out += [
            name[len(p) :] for p in self.layout.strip_prefixes if name.startswith(p) and len(name) > len(p)
        ]
        return out

    def match(self, name: str) -> Match | None:
        """The entry a stored name belongs to, or None (unknown or ignored)."""
        found = self._slot(name)
        if found is None or found[0].entry is None:
            return None
        slot, numbers = found
        idx = dict(zip(slot.order, numbers, strict=True))
        assert slot.entry is not None
        return Match(slot.entry, idx.get("layer"), idx.get("expert"), slot.template)

    def is_ignored(self, name: str) -> bool:
        """True for names the table knows are not weights (RoPE tables, attention masks, position ids)."""
        found = self._slot(name)
        return found is not None and found[0].entry is None
