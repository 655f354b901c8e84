"""The family-table schema: parse one ``layouts/data/<family>.json`` strictly into frozen records.

Layouts are data so that adding a family means adding a file, and so the README's architecture table
can be generated from them.  Strictness is the point: a misspelt key (``"optinal": true``) would
otherwise be dropped silently and a tensor would quietly go unmapped, so every unknown key, wrong type
or unknown role is a :class:`LayoutError` naming the file and the key.

A table's shape (all keys listed in ``_TOP_KEYS`` / ``_ENTRY_KEYS``)::

    {"family": "llama", "comment": "...", "architectures": ["LlamaForCausalLM"], "model_types": ["llama"],
     "formats": [], "add_prefixes": ["model."], "strip_prefixes": [], "config": {"layers": ["num_hidden_layers"], ...},
     "tied": {"lm_head": "embed"}, "unpermute_flag": null, "expert_groups_from": null,
     "ignore": ["layers.{layer}.self_attn.rotary_emb.inv_freq"], "synth_config": {...},
     "tensors": [{"role": "q", "name": "layers.{layer}.self_attn.q_proj.weight",
                  "aliases": [{"name": "layers.{layer}.attention.wq.weight", "families": ["llama2.c"]}]}]}

Templates are the names the family's reference implementation saves.  ``add_prefixes`` lists prefixes
a stored name may lack (a base model saved without its ``model.`` wrapper); ``strip_prefixes`` lists
prefixes a stored name may carry on top (``language_model.`` inside a multimodal checkpoint).

A table may ``"extends": "<family>"`` another table in the same folder: it inherits the parent's
tensors and every top-level key but the identifying ones (``family``, ``comment``, ``architectures``,
``model_types``, ``formats``); a key it sets replaces the parent's value whole.  Its own ``tensors``
replace inherited entries of the same ``name`` in place, and add new ones: after the entry named by
the new entry's ``"after"``, else right after the entry listed before it, else at the end.
``"drop": [names]`` removes inherited entries.  The result is validated as if written out in full.

Names are templates: ``{layer}`` and ``{expert}`` stand for decimal indices; they never contain other
numeric segments, so a stored name can be looked up by replacing its numeric segments with ``#``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heredity.errors import HeredityError
from heredity.layouts.roles import Role


class LayoutError(HeredityError):
    """A family table is malformed (a bug in heredity's data files, or in a user-supplied table)."""

    exit_code = 1


#: Spec-like fields a table may name config keys for (first key present in a config wins).
CONFIG_FIELDS = frozenset(
    {
        "layers", "hidden", "heads", "kv_heads", "head_dim", "intermediate", "vocab", "experts",
        "expert_groups", "experts_per_token", "shared_experts", "moe_intermediate", "shared_intermediate",
        "first_dense", "tie", "positions", "q_lora_rank", "kv_lora_rank", "qk_rope_head_dim",
        "qk_nope_head_dim", "v_head_dim", "mtp_layers",
    }
)  # fmt: skip

_TOP_KEYS = {
    "family": str, "comment": str, "architectures": list, "model_types": list, "formats": list,
    "add_prefixes": list, "strip_prefixes": list, "config": dict, "tied": dict, "unpermute_flag": (str, type(None)),
    "expert_groups_from": (str, type(None)), "ignore": list, "synth_config": dict, "tensors": list,
}  # fmt: skip
_REQUIRED_TOP = {"family", "comment", "tensors", "config"}
# keys only a table that extends another may use; they are resolved away before validation
_EXTENDS_KEYS = {"extends": str, "drop": list}
_IDENTITY_KEYS = {"family", "comment", "architectures", "model_types", "formats"}
MAX_EXTENDS_DEPTH = 8
_ENTRY_KEYS = {
    "role": str, "split": list, "name": str, "aliases": list, "optional": bool, "transpose": bool,
    "plus_one": bool, "unpermute": str, "fused_experts": bool, "moe": bool, "dense": bool,
    "synth": bool, "comment": str,
}  # fmt: skip
_ALIAS_KEYS = {"name": str, "families": list, "comment": str}
_PLACEHOLDERS = ("{layer}", "{expert}")


@dataclass(frozen=True)
class Alias:
    """Another stored name for the same tensor, with the families/tools that write it."""

    name: str
    families: tuple[str, ...]
    comment: str = ""


@dataclass(frozen=True)
class Entry:
    """One stored tensor kind of a family: which role(s) it holds and how to canonicalise it.

    ``roles`` has one element, or several for a fused tensor split into equal row blocks
    (gpt2 ``c_attn`` -> q, k, v; glm4 ``gate_up_proj`` -> gate, up).  ``fused_experts`` means the
    first stored axis is the expert index.  ``moe`` / ``dense`` restrict an entry to MoE or dense layers
    (used to build synthetic checkpoints and to decide which layers are MoE).
    """

    roles: tuple[Role, ...]
    name: str
    aliases: tuple[Alias, ...] = ()
    optional: bool = False
    transpose: bool = False
    plus_one: bool = False
    unpermute: str | None = None  # "heads" | "kv_heads"
    fused_experts: bool = False
    moe: bool = False
    dense: bool = False
    synth: bool | None = None  # include in synthetic checkpoints; default: required entries only
    comment: str = ""

    @property
    def in_synth(self) -> bool:
        return self.synth if self.synth is not None else not self.optional

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *(a.name for a in self.aliases))

    @property
    def per_layer(self) -> bool:
        return "{layer}" in self.name

    @property
    def per_expert(self) -> bool:
        return "{expert}" in self.name or self.fused_experts


@dataclass(frozen=True)
class Layout:
    """A parsed family table."""

    family: str
    comment: str
    entries: tuple[Entry, ...]
    config: dict[str, tuple[str, ...]]
    architectures: tuple[str, ...] = ()
    model_types: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    add_prefixes: tuple[str, ...] = ()
    strip_prefixes: tuple[str, ...] = ()
    tied: dict[Role, Role] | None = None
    unpermute_flag: str | None = None
    expert_groups_from: str | None = None
    ignore: tuple[str, ...] = ()
    synth_config: dict[str, Any] | None = None
    source: str = ""

    @property
    def is_moe(self) -> bool:
        return any(e.per_expert for e in self.entries)


def load_layout_file(path: Path) -> Layout:
    """Read and validate one JSON table (a parent it ``extends`` is ``<family>.json`` beside it)."""
    return parse_layout(_resolved(path, 0), source=str(path))


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LayoutError(f"cannot read layout table: {exc}", path=path, fix="fix the JSON") from None


def _resolved(path: Path, depth: int) -> object:
    """The table at ``path`` with its ``extends`` chain merged in (still unvalidated raw JSON)."""
    raw = _read_json(path)
    if not isinstance(raw, dict) or "extends" not in raw:
        return raw
    source = str(path)
    parent = raw["extends"]
    if not isinstance(parent, str) or not parent.isidentifier():
        raise LayoutError("'extends' must name a family", path=source, fix='e.g. "extends": "llama"')
    if depth >= MAX_EXTENDS_DEPTH:
        raise LayoutError(f"'extends' chain deeper than {MAX_EXTENDS_DEPTH} (a cycle?)", path=source,
                          fix="break the cycle")  # fmt: skip
    parent_path = path.parent / f"{parent}.json"
    if not parent_path.is_file():
        raise LayoutError(f"extends unknown family '{parent}'", path=source, fix=f"add {parent_path.name}")
    base = _resolved(parent_path, depth + 1)
    if not isinstance(base, dict):
        raise LayoutError("table must be an object", path=str(parent_path), fix="fix the table")
    return extend(base, raw, source)


def extend(parent: dict[str, Any], child: dict[str, Any], source: str = "<layout>") -> dict[str, Any]:
    """Merge a child table onto its (already resolved) parent; see the module docstring for the rules."""
    allowed = {**_TOP_KEYS, **_EXTENDS_KEYS}
    _check_keys(child, allowed, {"family", "comment", "extends"}, source, "table")
    out = {k: v for k, v in parent.items() if k not in _IDENTITY_KEYS and k in _TOP_KEYS}
    out.update({k: v for k, v in child.items() if k not in _EXTENDS_KEYS and k != "tensors"})
    entries = _inherited_entries(parent, child, source)
    cursor: int | None = None
    for i, raw in enumerate(child.get("tensors", [])):
        where = f"tensors[{i}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise LayoutError(f"{where} must be an object with a 'name'", path=source, fix="fix the table")
        entry = {k: v for k, v in raw.items() if k != "after"}
        names = [e["name"] for e in entries]
        after = raw.get("after")
        if entry["name"] in names:
            if after is not None:
                raise LayoutError(f"{where} replaces an inherited entry and cannot move it ('after')",
                                  path=source, fix="drop 'after'")  # fmt: skip
            cursor = names.index(entry["name"])
            entries[cursor] = entry
            continue
        if after is not None and (not isinstance(after, str) or after not in names):
            raise LayoutError(
                f"{where}.after names no entry: '{after}'", path=source, fix="name an entry above"
            )
        cursor = (
            names.index(after) + 1 if after is not None else (len(entries) if cursor is None else cursor + 1)
        )
        entries.insert(cursor, entry)
    out["tensors"] = entries
    return out


def _inherited_entries(parent: dict[str, Any], child: dict[str, Any], source: str) -> list[dict[str, Any]]:
    entries = [dict(e) for e in parent.get("tensors", []) if isinstance(e, dict)]
    names = [e.get("name") for e in entries]
    for name in _strs(child.get("drop", []), source, "drop"):
        if name not in names:
            raise LayoutError(f"drop names no inherited entry: '{name}'", path=source, fix="remove it")
        del entries[names.index(name)]
        names.remove(name)
    return entries


def parse_layout(raw: object, source: str = "<layout>") -> Layout:
    """Validate a decoded table (strict: unknown keys, wrong types and unknown roles are errors)."""
    if isinstance(raw, dict) and raw.keys() & _EXTENDS_KEYS.keys():
        raise LayoutError("a table that extends another must be loaded from its file", path=source,
                          fix="use load_layout_file, or merge it with schema.extend first")  # fmt: skip
    top = _check_keys(raw, _TOP_KEYS, _REQUIRED_TOP, source, "table")
    entries = tuple(_parse_entry(e, source, i) for i, e in enumerate(top["tensors"]))
    config = _parse_config(top["config"], source)
    tied = {_role(k, source, "tied"): _role(v, source, "tied") for k, v in top.get("tied", {}).items()}
    ignore = tuple(_strs(top.get("ignore", []), source, "ignore"))
    for template in [n for e in entries for n in e.names] + list(ignore):
        _check_template(template, source)
    return Layout(
        family=top["family"],
        comment=top["comment"],
        entries=entries,
        config=config,
        architectures=tuple(_strs(top.get("architectures", []), source, "architectures")),
        model_types=tuple(_strs(top.get("model_types", []), source, "model_types")),
        formats=tuple(_strs(top.get("formats", []), source, "formats")),
        add_prefixes=tuple(_strs(top.get("add_prefixes", []), source, "add_prefixes")),
        strip_prefixes=tuple(_strs(top.get("strip_prefixes", []), source, "strip_prefixes")),
        tied=tied or None,
        unpermute_flag=top.get("unpermute_flag"),
        expert_groups_from=_groups_from(top.get("expert_groups_from"), source),
        ignore=ignore,
        synth_config=top.get("synth_config"),
        source=source,
    )


def _parse_entry(raw: object, source: str, index: int) -> Entry:
    where = f"tensors[{index}]"
    d = _check_keys(raw, _ENTRY_KEYS, {"name"}, source, where)
    if ("role" in d) == ("split" in d):
        raise LayoutError(f"{where} needs exactly one of 'role' or 'split'", path=source, fix="fix the table")
    names = [d["role"]] if "role" in d else _strs(d["split"], source, where + ".split")
    roles = tuple(_role(r, source, where) for r in names)
    if d.get("unpermute") not in (None, "heads", "kv_heads"):
        raise LayoutError(
            f"{where}.unpermute must be 'heads' or 'kv_heads'", path=source, fix="fix the table"
        )
    aliases = tuple(_parse_alias(a, source, f"{where}.aliases") for a in d.get("aliases", []))
    flags = {
        k: d[k]
        for k in ("optional", "transpose", "plus_one", "fused_experts", "moe", "dense", "synth")
        if k in d
    }
    return Entry(roles=roles, name=d["name"], aliases=aliases, unpermute=d.get("unpermute"),
                 comment=d.get("comment", ""), **flags)  # fmt: skip


def _parse_alias(raw: object, source: str, where: str) -> Alias:
    d = _check_keys(raw, _ALIAS_KEYS, {"name", "families"}, source, where)
    return Alias(d["name"], tuple(_strs(d["families"], source, where)), d.get("comment", ""))


def _parse_config(raw: dict[str, Any], source: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for key, value in raw.items():
        if key not in CONFIG_FIELDS:
            raise LayoutError(
                f"unknown config field '{key}'", path=source, fix=f"use one of {sorted(CONFIG_FIELDS)}"
            )
        out[key] = tuple(_strs(value, source, f"config.{key}"))
    return out


def _groups_from(value: str | None, source: str) -> str | None:
    if value not in (None, "experts_per_token"):
        raise LayoutError("expert_groups_from must be 'experts_per_token'", path=source, fix="fix the table")
    return value


def _check_keys(
    raw: object, allowed: dict[str, Any], required: set[str], source: str, where: str
) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise LayoutError(f"{where} must be an object", path=source, fix="fix the table")
    for key, value in raw.items():
        if key not in allowed:
            raise LayoutError(
                f"unknown key '{key}' in {where}", path=source, fix=f"allowed: {sorted(allowed)}"
            )
        if not isinstance(value, allowed[key]) or (allowed[key] is not bool and isinstance(value, bool)):
            raise LayoutError(f"{where}.{key} has the wrong type", path=source, fix="fix the table")
    missing = required - raw.keys()
    if missing:
        raise LayoutError(f"{where} lacks {sorted(missing)}", path=source, fix="fix the table")
    return raw


def _strs(value: object, source: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LayoutError(f"{where} must be a list of strings", path=source, fix="fix the table")
    return value


def _role(name: object, source: str, where: str) -> Role:
    try:
        return Role(str(name))
    except ValueError:
        raise LayoutError(
            f"unknown role '{name}' in {where}", path=source, fix="use a heredity.layouts.Role value"
        ) from None


def _check_template(template: str, source: str) -> None:
    parts = template.split(".")
    if any(p.isdigit() for p in parts):
        raise LayoutError(
            f"template '{template}' has a literal number", path=source, fix="use {layer}/{expert}"
        )
    if "{expert}" in template and "{layer}" not in template:
        raise LayoutError(f"template '{template}' has an expert but no layer", path=source, fix="add {layer}")
    stripped = template.replace("{layer}", "").replace("{expert}", "")
    if "{" in stripped or "}" in stripped:
        raise LayoutError(
            f"template '{template}' has an unknown placeholder", path=source, fix="use {layer}/{expert}"
        )
