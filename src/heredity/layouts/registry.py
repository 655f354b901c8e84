"""All family tables, loaded once, and detection of which one a checkpoint uses.

Detection order, most to least trustworthy: the checkpoint format (GGUF names are the same whatever
the architecture), then ``config.json``'s ``architectures`` and ``model_type``, then the stored names
themselves (the table that explains most of them).  A config-detected table that explains fewer than
half of the names loses to a name-detected one (configs get copied between repositories).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from heredity.layouts.matching import NameIndex
from heredity.layouts.schema import Layout, LayoutError, load_layout_file

_DATA_PACKAGE = "heredity.layouts"


@functools.cache
def all_layouts() -> tuple[Layout, ...]:
    """Every table in ``layouts/data``, in file-name order; family names must be unique."""
    folder = resources.files(_DATA_PACKAGE).joinpath("data")
    paths = sorted(Path(str(p)) for p in folder.iterdir() if str(p).endswith(".json"))
    layouts = tuple(load_layout_file(p) for p in paths)
    seen: set[str] = set()
    for lay in layouts:
        if lay.family in seen:
            raise LayoutError(f"family '{lay.family}' defined twice", path=lay.source, fix="rename one")
        seen.add(lay.family)
    return layouts


@functools.cache
def name_index(family: str) -> NameIndex:
    return NameIndex(get_layout(family))


def get_layout(family: str) -> Layout:
    for lay in all_layouts():
        if lay.family == family:
            return lay
    raise LayoutError(f"no layout table for family '{family}'", fix=f"known: {family_names()}")


def family_names() -> list[str]:
    return [lay.family for lay in all_layouts()]


@dataclass(frozen=True)
class Detection:
    """Which table was chosen and why (the reason goes into the model's notes)."""

    layout: Layout | None
    reason: str


def detect(config: dict[str, Any], fmt: str, names: Iterable[str]) -> Detection:
    """Choose the family table for a checkpoint."""
    names = list(names)
    by_format = [lay for lay in all_layouts() if fmt in lay.formats]
    if by_format:
        arch = config.get("gguf_architecture") or config.get("model_type")
        why = f"family '{by_format[0].family}' from the {fmt} format" + (
            f" (architecture '{arch}')" if arch else ""
        )
        return Detection(by_format[0], why)
    by_config = _from_config(config)
    best, best_hits = _best_by_names(names)
    if by_config is not None:
        hits = _hits(by_config, names)
        if hits * 2 >= len(names) or best is None or best_hits <= hits:
            return Detection(by_config, f"family '{by_config.family}' from config.json")
        why = f"config says '{by_config.family}' but its names match '{best.family}'"
        return Detection(best, why)
    if best is not None and best_hits:
        return Detection(best, f"family '{best.family}' recognised from tensor names")
    return Detection(None, "no family table matches; roles inferred from names and shapes")


def _from_config(config: dict[str, Any]) -> Layout | None:
    archs = config.get("architectures") or []
    if isinstance(archs, str):
        archs = [archs]
    model_type = config.get("model_type")
    for arch in archs if isinstance(archs, list) else []:
        for lay in all_layouts():
            if arch in lay.architectures:
                return lay
    for lay in all_layouts():
        if model_type is not None and model_type in lay.model_types:
            return lay
    return None


def _hits(layout: Layout, names: list[str]) -> int:
    index = name_index(layout.family)
    return sum(1 for n in names if index.match(n) is not None)


def _best_by_names(names: list[str]) -> tuple[Layout | None, int]:
    """The table matching most names; ties go to the earlier file (generic families sort first)."""
    best: Layout | None = None
    best_hits = 0
    for lay in all_layouts():
        hits = _hits(lay, names)
        if hits > best_hits or (hits == best_hits and best is not None and _priority(lay) < _priority(best)):
            best, best_hits = lay, hits
    return best, best_hits


def _priority(layout: Layout) -> int:
    """Lower is preferred when two tables explain the same names (plain llama before its relatives)."""
    order = ["llama", "mistral", "qwen2", "qwen3"]
    return order.index(layout.family) if layout.family in order else len(order)
