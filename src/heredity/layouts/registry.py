"""All family tables, loaded once, and detection of which one a checkpoint uses.

Detection order, most to least trustworthy: the checkpoint format (GGUF names are the same whatever
the architecture), then ``config.json``'s ``architectures`` and ``model_type``, then the stored names
themselves (the table that explains most of them, under the wrapper prefix where it explains most:
:mod:`heredity.layouts.wrappers`).  A config-detected table that explains fewer than half of the
names loses to a name-detected one (configs get copied between repositories).
"""

from __future__ import annotations

import functools
import operator
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heredity.errors import safe_name
from heredity.layouts.matching import NameIndex, split_numbers
from heredity.layouts.schema import Layout, LayoutError, load_layout_file
from heredity.layouts.wrappers import Fit, KeyCounts, best_fit, candidate_prefixes, literal_prefix

# the tables ship inside the package as plain files (importlib.resources would import tempfile and
# zipfile: ~8 ms of every start-up)
_DATA = Path(__file__).resolve().parent / "data"
_ARCH_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@functools.cache
def all_layouts() -> tuple[Layout, ...]:
    """Every table in ``layouts/data``, in file-name order; family names must be unique."""
    paths = sorted(p for p in _DATA.iterdir() if p.suffix == ".json")
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
    """Which table was chosen and why (the reason goes into the model's notes).

    ``prefix`` is the wrapper prefix the family's names were found under (``""``: none); see
    :mod:`heredity.layouts.wrappers`.
    """

    layout: Layout | None
    reason: str
    prefix: str = ""
    family: str | None = None  # the family to report when it is not the table's (a GGUF's architecture)


def detect(config: dict[str, Any], fmt: str, names: Iterable[str]) -> Detection:
    """Choose the family table for a checkpoint."""
    return detect_split(config, fmt, [(n, *split_numbers(n)) for n in names])


def detect_split(config: dict[str, Any], fmt: str, split: list[tuple[str, str, list[int]]]) -> Detection:
    """:func:`detect` over names already split into ``(name, key, numbers)``.

    A format-level table (GGUF names, whatever the architecture) reports the architecture the file
    declares as the family (``general.architecture``, else ``model_type``)."""
    found = _detect(config, fmt, split)
    if found.layout is not None and found.layout.formats:
        arch = _architecture(config.get("gguf_architecture") or config.get("model_type"))
        return Detection(found.layout, found.reason, found.prefix, arch)
    return found


def _detect(config: dict[str, Any], fmt: str, split: list[tuple[str, str, list[int]]]) -> Detection:
    by_format = [lay for lay in all_layouts() if fmt in lay.formats]
    if by_format:
        arch = config.get("gguf_architecture") or config.get("model_type")
        why = f"family '{by_format[0].family}' from the {fmt} format" + (
            f" (architecture '{arch}')" if arch else ""
        )
        return Detection(by_format[0], why)
    counts: KeyCounts = Counter(zip(map(_KEY, split), map(len, map(_NUMBERS, split)), strict=True))
    candidates = candidate_prefixes(counts)
    by_config = _from_config(config)
    best, best_fit_ = _best_by_names(counts, candidates)
    if by_config is not None:
        fit = best_fit(name_index(by_config.family), counts, candidates)
        if fit.hits * 2 >= len(split) or best is None or best_fit_.hits <= fit.hits:
            return _found(by_config, fit, f"family '{by_config.family}' from config.json", split)
        why = f"config says '{by_config.family}' but its names match '{best.family}'"
        return _found(best, best_fit_, why, split)
    if best is not None and best_fit_.hits:
        return _found(best, best_fit_, f"family '{best.family}' recognised from tensor names", split)
    return Detection(None, "no family table matches; roles inferred from names and shapes")


_KEY, _NUMBERS = operator.itemgetter(1), operator.itemgetter(2)  # of (name, key, numbers): C-level counting


def _found(layout: Layout, fit: Fit, why: str, split: list[tuple[str, str, list[int]]]) -> Detection:
    if not fit.key_prefix:
        return Detection(layout, why)
    prefix = literal_prefix(fit.key_prefix, ((name, key) for name, key, _ in split))
    return Detection(layout, f"{why}; names found under the wrapper prefix '{safe_name(prefix, 80)}'", prefix)


def _architecture(arch: object) -> str | None:
    """A format-level table's family as the file names it (GGUF ``general.architecture``: ``llama``,
    ``gemma3``, ``qwen2moe``), when it is a plain name; None keeps the table's."""
    return arch if isinstance(arch, str) and _ARCH_NAME.fullmatch(arch) else None


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


def _best_by_names(counts: KeyCounts, candidates: frozenset[str]) -> tuple[Layout | None, Fit]:
    """The table matching most names; ties go to the earlier file (generic families sort first)."""
    best: Layout | None = None
    best_fit_ = Fit("", 0, 0)
    for lay in all_layouts():
        fit = best_fit(name_index(lay.family), counts, candidates)
        if fit.hits > best_fit_.hits or (
            fit.hits == best_fit_.hits and best is not None and _priority(lay) < _priority(best)
        ):
            best, best_fit_ = lay, fit
    return best, best_fit_


def _priority(layout: Layout) -> int:
    """Lower is preferred when two tables explain the same names (plain llama before its relatives)."""
    order = ["llama", "mistral", "qwen2", "qwen3"]
    return order.index(layout.family) if layout.family in order else len(order)
