"""Build a :class:`ModelSpec` from a checkpoint's config and its canonical tensor shapes.

Config values come first where present (they are what the authors declared); shapes fill the gaps and
are the truth for widths: when config and shapes disagree the shape wins and a warning says so.
Counts that shapes cannot settle (attention heads without a head_dim) are guessed and the guess is
written into the notes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from heredity.layouts.expand import canonical_shape
from heredity.layouts.model import ModelSpec, TensorRef
from heredity.layouts.roles import Role
from heredity.layouts.schema import Layout

_NESTED = ("text_config", "model_args", "params")  # gemma3 multimodal; llama2.c ckpt.pt; meta params.json
_HEAD_DIM_GUESSES = (128, 64, 96, 80, 256, 160, 32, 16, 8)

#: Default config keys used when no family table applies (shape-inferred models).
GENERIC_CONFIG: dict[str, tuple[str, ...]] = {
    "layers": ("num_hidden_layers", "n_layer", "n_layers", "num_layers"),
    "hidden": ("hidden_size", "n_embd", "dim", "d_model"),
    "heads": ("num_attention_heads", "n_head", "n_heads"),
    "kv_heads": ("num_key_value_heads", "n_kv_heads", "num_kv_heads"),
    "head_dim": ("head_dim",),
    "intermediate": ("intermediate_size", "n_inner", "hidden_dim", "ffn_dim"),
    "vocab": ("vocab_size", "n_vocab"),
    "experts": ("num_experts", "num_local_experts", "n_routed_experts"),
    "experts_per_token": ("num_experts_per_tok",),
}


def flatten_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level keys plus those of nested text/model-args sections (top level wins)."""
    out = dict(config)
    for key in _NESTED:
        sub = config.get(key)
        if isinstance(sub, Mapping):
            for k, v in sub.items():
                out.setdefault(str(k), v)
    return out


def config_value(config: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    """The first of ``keys`` with a non-null value in the (flattened) config."""
    for key in keys:
        value = config.get(key)
        if value is not None:
            return value
    return None


def config_int(config: Mapping[str, Any], keys: tuple[str, ...]) -> int | None:
    """The first of ``keys`` as a non-negative whole number; None for anything else (bools, strings,
    fractions, NaN and +-Inf included: hostile configs carry them)."""
    value = config_value(config, keys)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value) if int(value) == value and value >= 0 else None


@dataclass
class SpecInputs:
    """What :func:`build_spec` needs: the table (or None), config, refs and stored shapes."""

    layout: Layout | None
    config: dict[str, Any]
    refs: list[TensorRef]
    shapes: Mapping[str, tuple[int, ...]]
    fmt: str
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    family: str | None = None  # reported family when it is not the table's (a GGUF's architecture)
    inferred: bool = False  # some roles were inferred from names/shapes, not taken from the table
    _first: dict[Role, tuple[tuple[int, int, int], TensorRef]] | None = field(
        default=None, init=False, repr=False, compare=False
    )  # role -> its first ref by (layer, expert, position)

    def cfg(self, name: str) -> int | None:
        keys = self.layout.config.get(name, ()) if self.layout else GENERIC_CONFIG.get(name, ())
        return config_int(self.config, tuple(keys))

    def first_shape(self, *roles: Role) -> tuple[int, ...] | None:
        """The canonical shape of the first ref of ``roles`` by (layer, expert), earlier refs first."""
        if self._first is None:  # one pass over the refs for all the calls (DeepSeek-V3: 47,000)
            self._first = {}
            for i, r in enumerate(self.refs):
                order = (r.layer if r.layer is not None else -1, r.expert or 0, i)
                if r.role not in self._first or order < self._first[r.role][0]:
                    self._first[r.role] = (order, r)
        found = [self._first[role] for role in roles if role in self._first]
        if not found:
            return None
        ref = min(found, key=lambda f: f[0])[1]
        return canonical_shape(ref, self.shapes[ref.name])

    def dim(self, name: str, shape_value: int | None) -> int | None:
        """Config value checked against the shape value; the shape wins on disagreement."""
        declared = self.cfg(name)
        if declared is not None and shape_value is not None and declared != shape_value:
            self.warnings.append(
                f"config {name}={declared} but tensor shapes say {shape_value}; using shapes"
            )
            return shape_value
        return declared if declared is not None else shape_value


def build_spec(inp: SpecInputs) -> ModelSpec:
    hidden = inp.dim("hidden", _hidden_from_shapes(inp))
    heads, kv_heads, head_dim = _attention(inp, hidden)
    experts = inp.cfg("experts") or _count_experts(inp.refs)
    per_token = inp.cfg("experts_per_token") if experts else None
    groups = inp.cfg("expert_groups") if experts else None
    if experts and groups is None and inp.layout and inp.layout.expert_groups_from == "experts_per_token":
        groups = per_token
    return ModelSpec(
        family=inp.family or (inp.layout.family if inp.layout else "unknown"),
        format=inp.fmt,
        layers=_layers(inp),
        hidden_size=hidden,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        intermediate_size=_intermediate(inp, bool(experts)),
        vocab_size=inp.dim("vocab", _first(inp.first_shape(Role.EMBED, Role.LM_HEAD), 0)),
        experts=experts or None,
        expert_groups=groups,
        experts_per_token=per_token,
        shared_experts=_shared(inp) if experts else None,
        moe_intermediate_size=_moe_width(inp) if experts else None,
        tied_embeddings=_tied(inp),
        inferred=inp.layout is None or inp.inferred,
        notes=tuple(inp.notes),
    )  # fmt: skip


def _tied(inp: SpecInputs) -> bool:
    """No stored lm_head in a family whose head is tied to the embedding (encoders have no head at all)."""
    if inp.layout is not None and Role.LM_HEAD not in (inp.layout.tied or {}):
        return False
    keys = inp.layout.config.get("tie", ()) if inp.layout else ("tie_word_embeddings",)
    if config_value(inp.config, tuple(keys)) is True:
        return True  # declared tied; some readers expose the shared matrix under both names
    roles = {r.role for r in inp.refs}
    return Role.EMBED in roles and Role.LM_HEAD not in roles


def _first(shape: tuple[int, ...] | None, axis: int) -> int | None:
    return shape[axis] if shape is not None and len(shape) > axis else None


def _hidden_from_shapes(inp: SpecInputs) -> int | None:
    embed = inp.first_shape(Role.EMBED, Role.LM_HEAD)
    if embed is not None and len(embed) == 2:
        return embed[1]
    return _first(inp.first_shape(Role.ATTN_NORM, Role.FINAL_NORM, Role.MLP_NORM), 0)


def _layers(inp: SpecInputs) -> int:
    seen = [r.layer for r in inp.refs if r.layer is not None]
    from_shapes = max(seen) + 1 if seen else 0
    declared = inp.cfg("layers")
    if declared is not None and seen and declared != from_shapes:
        inp.warnings.append(
            f"config declares {declared} layers but tensors cover {from_shapes}; using tensors"
        )
    return from_shapes if seen or declared is None else declared


def _attention(inp: SpecInputs, hidden: int | None) -> tuple[int | None, int | None, int | None]:
    q_rows = _first(inp.first_shape(Role.Q, Role.Q_B), 0)
    k_rows = _first(inp.first_shape(Role.K), 0)
    heads, kv_heads = inp.cfg("heads"), inp.cfg("kv_heads")
    head_dim = inp.cfg("head_dim") or _first(inp.first_shape(Role.Q_NORM, Role.K_NORM), 0)
    if heads is None and q_rows is not None:
        heads, head_dim = _guess_heads(inp, q_rows, k_rows, head_dim)
    if head_dim is None and heads:
        head_dim = (
            q_rows // heads if q_rows and q_rows % heads == 0 else (hidden // heads if hidden else None)
        )
    if kv_heads is None and heads is not None:
        kv_heads = k_rows // head_dim if k_rows and head_dim and k_rows % head_dim == 0 else heads
    return heads, kv_heads, head_dim


def _guess_heads(
    inp: SpecInputs, q_rows: int, k_rows: int | None, hint: int | None
) -> tuple[int | None, int | None]:
    for d in (hint, *_HEAD_DIM_GUESSES):
        if d and q_rows % d == 0 and (k_rows is None or k_rows % d == 0):
            inp.notes.append(f"attention heads not in config: guessed head_dim={d}, {q_rows // d} heads")
            return q_rows // d, d
    return None, None


def _count_experts(refs: list[TensorRef]) -> int:
    return len({r.expert for r in refs if r.expert is not None})


def _intermediate(inp: SpecInputs, moe: bool) -> int | None:
    shape = _first(inp.first_shape(Role.MLP_UP, Role.MLP_GATE), 0)
    if shape is not None or moe:
        return shape
    return inp.cfg("intermediate")


def _moe_width(inp: SpecInputs) -> int | None:
    return _first(inp.first_shape(Role.EXPERT_UP, Role.EXPERT_GATE), 0) or inp.cfg("moe_intermediate")


def _shared(inp: SpecInputs) -> int | None:
    declared = inp.cfg("shared_experts")
    if declared is not None:
        return declared
    return 1 if any(r.role in (Role.SHARED_UP, Role.SHARED_GATE) for r in inp.refs) else 0
