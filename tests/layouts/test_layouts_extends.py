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
        {
            k: _plain(getattr(e, k))
            for k in (
                "roles",
                "name",
                "optional",
                "transpose",
                "plus_one",
                "unpermute",
                "fused_experts",
                "moe",
                "dense",
                "synth",
                "comment",
            )
        }
        | {"aliases": [[a.name, list(a.families), a.comment] for a in e.aliases]}  # fmt: skip
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


PARENT = {
    "family": "base",
    "comment": "a parent",
    "architectures": ["BaseForCausalLM"],
    "add_prefixes": ["model."],
    "config": {"layers": ["num_hidden_layers"]},
    "tensors": [
        {"role": "embed", "name": "embed.weight"},
        {"role": "q", "name": "layers.{layer}.q.weight"},
        {"role": "o", "name": "layers.{layer}.o.weight"},
        {"role": "mlp_up", "name": "layers.{layer}.up.weight"},
    ],
}


def _write(folder: Path, *tables: dict[str, Any]) -> None:
    for table in tables:
        (folder / f"{table['family']}.json").write_text(json.dumps(table), encoding="utf-8")


def test_child_inherits_replaces_inserts_and_drops(tmp_path: Path) -> None:
    from heredity.layouts.schema import load_layout_file

    child = {
        "family": "child", "extends": "base", "comment": "a child", "architectures": ["ChildLM"],
        "drop": ["layers.{layer}.up.weight"],
        "tensors": [
            {"role": "q_bias", "name": "layers.{layer}.q.bias", "after": "layers.{layer}.q.weight"},
            {"role": "k", "name": "layers.{layer}.k.weight"},  # right after the entry listed before it
            {"role": "o", "name": "layers.{layer}.o.weight", "optional": True},  # replaced in place
            {"role": "mlp_down", "name": "layers.{layer}.down.weight"},  # after the replaced o
        ],
    }  # fmt: skip
    _write(tmp_path, PARENT, child)
    lay = load_layout_file(tmp_path / "child.json")
    assert [e.name.split(".")[-2] for e in lay.entries] == ["embed", "q", "q", "k", "o", "down"]
    assert lay.entries[4].optional and lay.add_prefixes == ("model.",) and lay.architectures == ("ChildLM",)
    assert lay.config == {"layers": ("num_hidden_layers",)}


def test_identity_keys_are_not_inherited(tmp_path: Path) -> None:
    from heredity.layouts.schema import load_layout_file

    _write(tmp_path, PARENT, {"family": "bare", "extends": "base", "comment": "no architectures of its own"})
    lay = load_layout_file(tmp_path / "bare.json")
    assert lay.architectures == () and len(lay.entries) == 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"extends": "nope"}, "extends unknown family 'nope'"),
        ({"drop": ["missing.weight"]}, "drop names no inherited entry"),
        ({"tensors": [{"role": "k", "name": "k.weight", "after": "missing"}]}, "after names no entry"),
        (
            {"tensors": [{"role": "q", "name": "layers.{layer}.q.weight", "after": "embed.weight"}]},
            "cannot move",
        ),
        ({"tensors": [{"role": "k", "name": "k.weight", "optinal": True}]}, "unknown key 'optinal'"),
        ({"extends": "child"}, "deeper than"),
    ],
)
def test_bad_extends_are_errors(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    from heredity.layouts.schema import load_layout_file

    _write(tmp_path, PARENT, {"family": "child", "extends": "base", "comment": "c", **change})
    with pytest.raises(LayoutError, match=message):
        load_layout_file(tmp_path / "child.json")


def test_extends_needs_the_file_context() -> None:
    with pytest.raises(LayoutError, match="loaded from its file"):
        parse_layout({**PARENT, "extends": "llama"})
