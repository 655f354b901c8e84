"""Tables may ``extends`` another family: the expanded tables are exactly what they were before.

``data/expanded_tables.json`` was dumped from the tables as they stood before ``extends`` existed
(every family written out in full); a table rewritten to inherit must expand to the same entries, in
the same order, with the same name index, detection keys and config.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from heredity.layouts.matching import NameIndex
from heredity.layouts.registry import all_layouts
from heredity.layouts.schema import Layout, LayoutError, parse_layout

SNAPSHOT = Path(__file__).parent / "data" / "expanded_tables.json"


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def expanded(layout: Layout) -> dict[str, Any]:
    """Everything a table means once loaded (its prose comment and file path aside)."""
    top = {k: _plain(getattr(layout, k)) for k in (
        "architectures", "model_types", "formats", "add_prefixes", "strip_prefixes", "config", "tied",
        "unpermute_flag", "expert_groups_from", "ignore", "synth_config",
    )}  # fmt: skip
    entries = [
        {k: _plain(getattr(e, k)) for k in (
            "roles", "name", "optional", "transpose", "plus_one", "unpermute", "fused_experts", "moe",
            "dense", "synth", "comment",
        )} | {"aliases": [[a.name, list(a.families), a.comment] for a in e.aliases]}  # fmt: skip
        for e in layout.entries
    ]
    index = NameIndex(layout)
    names = {
        key: [slot.template, None if slot.entry is None else _plain(slot.entry.roles)]
        for key, slot in index._slots.items()
    }
    return {"top": top, "entries": entries, "names": names}


def dump_all() -> dict[str, Any]:
    return {lay.family: expanded(lay) for lay in all_layouts()}


def test_every_family_expands_exactly_as_before() -> None:
    want = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    got = json.loads(json.dumps(dump_all()))
    assert sorted(got) == sorted(want)
    for family in want:
        assert got[family] == want[family], family


if __name__ == "__main__":  # regenerate the snapshot (only when a table's meaning changes on purpose)
    SNAPSHOT.write_text(json.dumps(dump_all(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
