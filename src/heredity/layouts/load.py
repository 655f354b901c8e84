"""``load_model``: open a checkpoint, pick its family table, map every stored name to canonical refs.

Names the table does not know are handed to :mod:`heredity.layouts.infer`; whatever is still unknown
is listed in ``Model.unknown`` so that ``inspect`` can show it and tests can refuse to score it.
When the family's names sit under a wrapper prefix (:mod:`heredity.layouts.wrappers`), unmapped
names outside that prefix are other parts of the checkpoint (a vision tower): they become
``Model.components``, grouped by their own prefix, and are neither inferred nor scored.

Each name is split into its key and numbers once (:func:`~heredity.layouts.matching.split_names`,
decided per digit pattern); what a key maps to is decided once per key (:func:`_plan`), so a name
costs a dict lookup and, when it maps to one tensor, its ref (a DeepSeek-V3 header: 95,000 names,
~40 keys; ``benchmarks/inventory.py``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from heredity.checkpoint import open_checkpoint
from heredity.checkpoint._gc import gc_paused
from heredity.checkpoint.base import Checkpoint, TensorInfo
from heredity.errors import safe_name
from heredity.layouts.expand import refs_for
from heredity.layouts.infer import LAYER_WORDS, infer_refs, layer_of
from heredity.layouts.matching import NameIndex, Slot, slot_match, split_names, split_numbers
from heredity.layouts.model import Component, Model, TensorRef
from heredity.layouts.registry import detect_split, name_index
from heredity.layouts.roles import Role
from heredity.layouts.schema import Layout
from heredity.layouts.spec import SpecInputs, build_spec, config_int, flatten_config

Split = list[tuple[str, str, list[int]]]  # (stored name, key, numbers)


def load_model(source: str | os.PathLike[str] | Checkpoint) -> Model:
    """A canonical, role-addressed :class:`Model` over ``source`` (a path, hub id or open checkpoint).

    Only headers are read.  Paths and hub ids go through :func:`heredity.checkpoint.open_checkpoint`.
    """
    checkpoint = source if isinstance(source, Checkpoint) else open_checkpoint(source)
    return model_from_checkpoint(checkpoint)


def model_from_checkpoint(checkpoint: Checkpoint) -> Model:
    """Map an already open checkpoint (headers only); config/shape disagreements become its warnings."""
    with gc_paused():
        return _model_from_checkpoint(checkpoint)


def _model_from_checkpoint(checkpoint: Checkpoint) -> Model:
    inventory = checkpoint.tensors
    config = flatten_config(checkpoint.config or {})
    split = split_names(list(inventory))
    detection = detect_split(config, checkpoint.format, split)
    notes = [detection.reason]
    mapped = _Mapping(detection.layout, detection.prefix, config, inventory, checkpoint.source, notes)
    mapped.run(split)
    inp = SpecInputs(detection.layout, config, mapped.refs, _Shapes(inventory),
                     checkpoint.format, notes, family=detection.family,
                     inferred=mapped.inferred > 0)  # fmt: skip
    spec = build_spec(inp)
    for w in inp.warnings:
        if w not in checkpoint.warnings:
            checkpoint.warnings.append(w)
    return Model(checkpoint=checkpoint, spec=spec, refs=mapped.refs, unknown=mapped.unknown,
                 prefix=detection.prefix, components=mapped.components)  # fmt: skip


class _Shapes(Mapping[str, tuple[int, ...]]):
    """name -> stored shape, read from the inventory when asked (the spec asks for a few)."""

    def __init__(self, inventory: Mapping[str, TensorInfo]) -> None:
        self._inventory = inventory

    def __getitem__(self, name: str) -> tuple[int, ...]:
        return self._inventory[name].shape

    def __iter__(self) -> Iterator[str]:
        return iter(self._inventory)

    def __len__(self) -> int:
        return len(self._inventory)


@dataclass
class _Mapping:
    """Stored names -> refs under one table and wrapper prefix; what is left is inferred or unknown."""

    layout: Layout | None
    prefix: str
    config: dict[str, Any]
    inventory: Mapping[str, TensorInfo]
    source: str
    notes: list[str]
    refs: list[TensorRef] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    components: tuple[Component, ...] = ()
    inferred: int = 0  # tensors whose roles were inferred from names/shapes

    def run(self, split: Split) -> None:
        index = name_index(self.layout.family) if self.layout else None
        heads = _unpermute_heads(self.layout, self.config)
        mtp_from = _mtp_first_layer(self.layout, self.config)
        mtp_min = max(mtp_from or 0, 1)  # a plain layer number n is in an MTP layer when n >= this
        key_prefix, skip = split_numbers(self.prefix)[0], len(split_numbers(self.prefix)[1])
        leftover: list[str] = []
        outside: list[str] = []
        ignored = mtp = 0
        plans: dict[tuple[str, int, bool], tuple[int | None, _Plan]] = {}  # per key, not per name
        add_ref = self.refs.append
        for name, key, numbers in split:
            under = bool(self.prefix) and name.startswith(self.prefix)
            plan_key = (key, len(numbers), under)
            known = plans.get(plan_key)
            if known is None:
                at = _layer_position(key) if mtp_from is not None else None
                known = plans[plan_key] = (at, _plan(index, key, len(numbers), key_prefix, skip, under, heads))
            at, plan = known  # at: where the layer number is, asked only when there are MTP layers
            if at is not None and (
                numbers[at] >= mtp_min if at < len(numbers) and numbers[at] < 10**6 else _in_mtp_layer(name, numbers, at, mtp_from)
            ):  # fmt: skip
                mtp += 1
            elif type(plan) is _Direct:  # one canonical tensor: the ref is the name and its numbers
                layer = None if plan.layer_at is None else numbers[plan.layer_at]
                expert = None if plan.expert_at is None else numbers[plan.expert_at]
                add_ref(TensorRef(name, plan.role, layer, expert, None, plan.transpose, None, plan.unpermute,
                                  plan.plus_one))  # fmt: skip
            elif isinstance(plan, tuple):  # fused or split tensors: their shapes decide the refs
                slot, offset = plan
                found = slot_match(slot, numbers[offset:])
                self.refs.extend(refs_for(found, self.inventory[name], heads, self.source))
            elif plan is IGNORED:
                ignored += 1
            elif self.prefix and not under:
                outside.append(name)
            else:
                leftover.append(name)
        self.components, stray = _components(outside, self.prefix.count("."))
        if mtp:
            self.notes.append(f"{mtp} tensors of multi-token-prediction layers (index >= {mtp_from}) skipped")
        if ignored:
            self.notes.append(f"{ignored} non-weight buffers ignored (RoPE tables, masks, position ids)")
        if self.components:
            n = sum(len(c.names) for c in self.components)
            self.notes.append(f"{n} tensors of {len(self.components)} other components outside "
                              f"'{safe_name(self.prefix, 80)}' reported, not mapped")  # fmt: skip
        inferred, self.unknown = infer_refs(leftover + stray, self.inventory, self.refs)
        self.inferred = len(inferred)
        if inferred:
            self.notes.append(
                f"{len(inferred)} tensors mapped by name/shape inference, not by a family table"
            )
        self.refs += inferred


class _Ignored:
    """A name the table knows is not a weight (RoPE tables, masks, position ids)."""


IGNORED = _Ignored()


@dataclass(frozen=True)
class _Direct:
    """How every name of one key becomes its single ref: :func:`refs_for` of an entry that is
    neither fused over experts nor split into several roles, decided once."""

    role: Role
    layer_at: int | None  # position of the layer / expert number among the name's numbers
    expert_at: int | None
    transpose: bool
    unpermute: int | None
    plus_one: bool


_Plan = _Direct | tuple[Slot, int] | _Ignored | None  # (slot, numbers to skip): refs_for per name
_UNSEEN: Any = object()


def _plan(
    index: NameIndex | None, key: str, count: int, key_prefix: str, skip: int, under: bool,
    heads: dict[str, int | None],
) -> _Plan:  # fmt: skip
    """What names of one key (with ``count`` numbers) map to: under the wrapper prefix first (when
    they have it), else as stored."""
    if index is None:
        return None
    slot, offset = None, 0
    if under:
        slot, offset = index.lookup(key[len(key_prefix) :], count - skip), skip
    if slot is None:
        slot, offset = index.lookup(key, count), 0
    if slot is None:
        return None
    entry = slot.entry
    if entry is None:
        return IGNORED
    if entry.fused_experts or len(entry.roles) != 1:
        return slot, offset
    unpermute = heads.get(entry.unpermute) if entry.unpermute else None
    layer_at = None if slot.layer_at is None else slot.layer_at + offset
    expert_at = None if slot.expert_at is None else slot.expert_at + offset
    return _Direct(entry.roles[0], layer_at, expert_at, entry.transpose, unpermute, entry.plus_one)


@functools.lru_cache(maxsize=4096)
def _layer_position(key: str) -> int | None:
    """Which of a key's numbers follows its first layer word (``layers.#``), or None."""
    parts = key.split(".")
    seen = 0  # numbers before position i
    for i, part in enumerate(parts[:-1]):
        if part.lower() in LAYER_WORDS and parts[i + 1] == "#":
            return seen
        seen += part == "#"
    return None


def _in_mtp_layer(name: str, numbers: list[int], at: int, mtp_from: int | None) -> bool:
    """``_layer_number(name, numbers, at) >= mtp_from``; for a plain number n that is
    ``(n or -1) >= mtp_from``, i.e. ``n >= max(mtp_from, 1)`` (mtp_from is never negative)."""
    if mtp_from is None:
        return False
    if at < len(numbers) and numbers[at] < 10**6:
        return numbers[at] >= max(mtp_from, 1)
    return _layer_number(name, numbers, at) >= mtp_from


def _layer_number(name: str, numbers: list[int], at: int) -> int:
    """``layer_of(name)[0] or -1`` for a name whose key has its layer number at ``at`` (see
    :func:`_layer_position`; names without one are at layer -1), read from the name's numbers (a
    7-digit "layer": layer_of decides)."""
    if at < len(numbers) and numbers[at] < 10**6:
        return numbers[at] or -1
    return layer_of(name)[0] or -1  # a name with '#' where keys have their numbers: layer_of decides


def _components(names: list[str], depth: int) -> tuple[tuple[Component, ...], list[str]]:
    """Group names by their first ``depth`` segments (the wrapper's depth); names too short to have
    such a prefix are returned apart (they go to inference, like any unmapped name)."""
    groups: dict[str, list[str]] = {}
    stray: list[str] = []
    for name in names:
        parts = name.split(".")
        if len(parts) > depth:
            groups.setdefault(".".join(parts[:depth]) + ".", []).append(name)
        else:
            stray.append(name)
    return tuple(Component(p, tuple(ns)) for p, ns in groups.items()), stray


def _mtp_first_layer(layout: Layout | None, config: dict[str, Any]) -> int | None:
    """Index of the first multi-token-prediction layer (DeepSeek-V3, GLM-4.5 append them after the
    decoder stack with the same names); None when the config declares none."""
    if layout is None or not config_int(config, layout.config.get("mtp_layers", ())):
        return None
    return config_int(config, layout.config.get("layers", ()))


def _unpermute_heads(layout: Layout | None, config: dict[str, Any]) -> dict[str, int | None]:
    """Head counts for q/k un-permutation, only when the table's flag is set in the config."""
    if layout is None or layout.unpermute_flag is None or not config.get(layout.unpermute_flag):
        return {}
    heads = config_int(config, layout.config.get("heads", ()))
    kv_heads = config_int(config, layout.config.get("kv_heads", ())) or heads
    return {"heads": heads, "kv_heads": kv_heads}
