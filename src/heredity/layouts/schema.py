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
    """Read and validate one JSON table."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LayoutError(f"cannot read layout table: {exc}", path=path, fix="fix the JSON") from None
    return parse_layout(raw, source=str(path))


def parse_layout(raw: object, source: str = "<layout>") -> Layout:
    """Validate a decoded table (strict: unknown keys, wrong types and unknown roles are errors)."""
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
