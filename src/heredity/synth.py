"""Synthetic checkpoints with a family's real tensor names and a matching ``config.json``.

Built from the family tables themselves: every entry a real checkpoint of the family always has (and
the optional ones marked ``synth``) is generated, in the stored orientation (Conv1D ``[in, out]``,
fused ``c_attn`` / ``gate_up_proj``, GGUF-permuted q/k rows, Gemma's stored ``w`` of ``1 + w``), so
loading it back exercises every canonicalisation step.  Weights are gaussian; norms are ``1 + noise``
(never constant, so the elementwise tests have something to see).  ``seed`` determines everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from heredity.checkpoint.base import MemoryCheckpoint
from heredity.errors import UsageError
from heredity.layouts.registry import all_layouts, family_names
from heredity.layouts.roles import Role
from heredity.layouts.schema import Entry, Layout

_NORM_ROLES = frozenset(
    {Role.ATTN_NORM, Role.POST_ATTN_NORM, Role.MLP_NORM, Role.POST_MLP_NORM, Role.FINAL_NORM, Role.EMBED_NORM,
     Role.Q_NORM, Role.K_NORM, Role.Q_A_NORM, Role.KV_A_NORM, Role.ROUTER_SCALE}
)  # fmt: skip


@dataclass(frozen=True)
class Dims:
    """Every width a synthetic model needs (MLA widths derived from head_dim)."""

    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    experts: int
    experts_per_token: int
    expert_groups: int | None
    shared_experts: int
    moe_intermediate: int
    first_dense: int
    positions: int = 64
    types: int = 2

    @property
    def q_lora_rank(self) -> int:
        return max(self.hidden // 2, 8)

    @property
    def kv_lora_rank(self) -> int:
        return max(self.hidden // 4, 8)

    @property
    def rope_dim(self) -> int:
        return self.head_dim // 2

    @property
    def shared_intermediate(self) -> int:
        return self.moe_intermediate * max(self.shared_experts, 1)


def resolve_layout(family: str) -> Layout:
    """A table by family name, architecture or model_type (``gemma3_text`` -> gemma3)."""
    for lay in all_layouts():
        if family == lay.family or family in lay.model_types or family in lay.architectures:
            return lay
    raise UsageError(f"unknown family '{family}'", fix=f"choose one of {', '.join(family_names())}")


def make_checkpoint(
    family: str,
    *,
    layers: int = 2,
    hidden: int = 64,
    heads: int = 4,
    kv_heads: int = 2,
    head_dim: int | None = None,
    intermediate: int = 128,
    vocab: int = 256,
    experts: int | None = None,
    expert_groups: int | None = None,
    experts_per_token: int | None = None,
    shared_experts: int | None = None,
    moe_intermediate: int | None = None,
    tie_embeddings: bool = False,
    seed: int = 0,
    std: float = 0.02,
) -> MemoryCheckpoint:
    """A random model of ``family`` with real tensor names; see the module docstring."""
    layout = resolve_layout(family)
    moe = layout.is_moe and family != "gguf" or bool(experts)
    n_experts = (experts or 4) if moe else 0
    per_token = experts_per_token or (min(2, n_experts) if moe else 0)
    dims = Dims(
        layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads if layout.config.get("kv_heads") else heads,
        head_dim=head_dim or hidden // heads, intermediate=intermediate, vocab=vocab, experts=n_experts,
        experts_per_token=per_token, expert_groups=_groups(layout, expert_groups, per_token, n_experts),
        shared_experts=_shared_count(layout, shared_experts, moe), moe_intermediate=moe_intermediate or intermediate // 2,
        first_dense=_first_dense(layout, layers) if moe else 0,
    )  # fmt: skip
    _validate(dims)
    config = synth_config(layout, dims, tie_embeddings)
    arrays = _Builder(layout, dims, np.random.default_rng(seed), std, config).build(tie_embeddings)
    return MemoryCheckpoint(arrays=arrays, config=config, source=f"<synth {layout.family} seed={seed}>")


def _groups(layout: Layout, groups: int | None, per_token: int, experts: int) -> int | None:
    if not experts:
        return None
    if layout.expert_groups_from == "experts_per_token":
        return per_token
    return groups if groups is not None else (1 if "expert_groups" in layout.config else None)


def _shared_count(layout: Layout, shared: int | None, moe: bool) -> int:
    has_shared = any(Role.SHARED_UP in e.roles and e.in_synth for e in layout.entries)
    if not moe or not has_shared:
        return 0
    return shared if shared is not None else 1


def _first_dense(layout: Layout, layers: int) -> int:
    if "first_dense" not in layout.config or layout.synth_config is None:
        return 0
    key = layout.config["first_dense"][0]
    return min(int(layout.synth_config.get(key, 0)), max(layers - 1, 0))


def _validate(d: Dims) -> None:
    if d.heads % d.kv_heads or d.head_dim % 2 or min(d.layers, d.hidden, d.heads, d.vocab) < 1:
        raise UsageError(
            "inconsistent synthetic dims", fix="heads must be a multiple of kv_heads, head_dim even"
        )
    if d.expert_groups and d.experts % d.expert_groups:
        raise UsageError("experts must divide into expert_groups", fix="choose experts = k * expert_groups")


def synth_config(layout: Layout, d: Dims, tie: bool) -> dict[str, Any]:
    """The HF-style config.json a real checkpoint of this shape would carry."""
    values: dict[str, Any] = {
        "layers": d.layers, "hidden": d.hidden, "heads": d.heads, "kv_heads": d.kv_heads, "head_dim": d.head_dim,
        "intermediate": d.intermediate, "vocab": d.vocab, "tie": tie, "positions": d.positions,
        "q_lora_rank": d.q_lora_rank, "kv_lora_rank": d.kv_lora_rank, "qk_rope_head_dim": d.rope_dim,
        "qk_nope_head_dim": d.head_dim - d.rope_dim, "v_head_dim": d.head_dim,
    }  # fmt: skip
    if d.experts:
        values.update(experts=d.experts, experts_per_token=d.experts_per_token, moe_intermediate=d.moe_intermediate,
                      shared_experts=d.shared_experts, shared_intermediate=d.shared_intermediate,
                      expert_groups=d.expert_groups, first_dense=d.first_dense)  # fmt: skip
    config: dict[str, Any] = {}
    if layout.architectures:
        config["architectures"] = [layout.architectures[0]]
    if layout.model_types:
        config["model_type"] = layout.model_types[0]
    config.update(layout.synth_config or {})
    for field, keys in layout.config.items():
        if keys and field in values and values[field] is not None:
            config[keys[0]] = values[field]
    if not any(e.in_synth and Role.Q_A in e.roles for e in layout.entries) and "q_lora_rank" in layout.config:
        config[layout.config["q_lora_rank"][0]] = None
    return config


class _Builder:
    """Generates the arrays of one synthetic model, entry by entry, in table order."""

    def __init__(
        self, layout: Layout, dims: Dims, rng: np.random.Generator, std: float, config: dict[str, Any]
    ):
        self.layout, self.d, self.rng, self.std = layout, dims, rng, std
        self.permute = bool(layout.unpermute_flag and config.get(layout.unpermute_flag))

    def build(self, tie: bool) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {}
        for entry in self.layout.entries:
            if entry.in_synth and not entry.per_layer and not (tie and Role.LM_HEAD in entry.roles):
                arrays[entry.name] = self.stored(entry)
        for layer in range(self.d.layers):
            moe_layer = bool(self.d.experts) and layer >= self.d.first_dense
            for entry in self.layout.entries:
                if entry.in_synth and entry.per_layer and self._wanted(entry, moe_layer):
                    self._emit(arrays, entry, layer)
        return arrays

    def _wanted(self, entry: Entry, moe_layer: bool) -> bool:
        if entry.moe and not moe_layer:
            return False
        if (
            entry.roles[0] in (Role.SHARED_GATE, Role.SHARED_UP, Role.SHARED_DOWN)
            and not self.d.shared_experts
        ):
            return False
        return not (entry.dense and moe_layer)

    def _emit(self, arrays: dict[str, np.ndarray], entry: Entry, layer: int) -> None:
        name = entry.name.replace("{layer}", str(layer))
        if "{expert}" in name:
            for e in range(self.d.experts):
                arrays[name.replace("{expert}", str(e))] = self.stored(entry)
        else:
            arrays[name] = self.stored(entry)

    def stored(self, entry: Entry) -> np.ndarray:
        """One stored tensor: canonical parts joined, transposed/permuted/stacked as the family stores it."""
        if entry.fused_experts:
            return np.stack([self._one(entry) for _ in range(self.d.experts)])
        return self._one(entry)

    def _one(self, entry: Entry) -> np.ndarray:
        parts = [self.canonical(role, entry.plus_one) for role in entry.roles]
        w = np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
        if self.permute and entry.unpermute:
            w = permute_gguf_rows(w, self.d.heads if entry.unpermute == "heads" else self.d.kv_heads)
        return np.ascontiguousarray(w.T if entry.transpose else w)

    def canonical(self, role: Role, plus_one: bool) -> np.ndarray:
        shape = role_shape(role, self.d)
        noise = self.rng.standard_normal(shape).astype(np.float32) * np.float32(self.std)
        if role in _NORM_ROLES and not plus_one:
            return noise + np.float32(1.0)
        return noise


def permute_gguf_rows(w: np.ndarray, n_heads: int) -> np.ndarray:
    """llama.cpp's q/k row permutation (HF rotate-half order -> interleaved pairs); the inverse of
    :func:`heredity.layouts.model.unpermute_gguf_rows`."""
    rows, rest = w.shape[0], w.shape[1:]
    half = rows // n_heads // 2
    return w.reshape(n_heads, 2, half, *rest).swapaxes(1, 2).reshape(rows, *rest)


def role_shape(role: Role, d: Dims) -> tuple[int, ...]:
    """The canonical shape of ``role`` in a model of dims ``d``."""
    h, q, kv = d.hidden, d.heads * d.head_dim, d.kv_heads * d.head_dim
    table: dict[Role, tuple[int, ...]] = {
        Role.EMBED: (d.vocab, h), Role.LM_HEAD: (d.vocab, h), Role.POS_EMBED: (d.positions, h),
        Role.TYPE_EMBED: (d.types, h), Role.POOLER: (h, h),
        Role.Q: (q, h), Role.K: (kv, h), Role.V: (kv, h), Role.O: (h, q),
        Role.Q_BIAS: (q,), Role.K_BIAS: (kv,), Role.V_BIAS: (kv,), Role.Q_NORM: (d.head_dim,), Role.K_NORM: (d.head_dim,),
        Role.Q_A: (d.q_lora_rank, h), Role.Q_A_NORM: (d.q_lora_rank,), Role.Q_B: (q, d.q_lora_rank),
        Role.KV_A: (d.kv_lora_rank + d.rope_dim, h), Role.KV_A_NORM: (d.kv_lora_rank,),
        Role.KV_B: (d.heads * (d.head_dim - d.rope_dim + d.head_dim), d.kv_lora_rank),
        Role.MLP_GATE: (d.intermediate, h), Role.MLP_UP: (d.intermediate, h), Role.MLP_DOWN: (h, d.intermediate),
        Role.MLP_UP_BIAS: (d.intermediate,), Role.ROUTER: (d.experts, h), Role.ROUTER_BIAS: (d.experts,),
        Role.ROUTER_SCALE: (1, d.experts), Role.SHARED_EXPERT_GATE: (1, h),
        Role.EXPERT_GATE: (d.moe_intermediate, h), Role.EXPERT_UP: (d.moe_intermediate, h),
        Role.EXPERT_DOWN: (h, d.moe_intermediate), Role.SHARED_GATE: (d.shared_intermediate, h),
        Role.SHARED_UP: (d.shared_intermediate, h), Role.SHARED_DOWN: (h, d.shared_intermediate),
    }  # fmt: skip
    return table.get(
        role, (h,)
    )  # every other role is a hidden-sized vector (norms, their biases, o/down bias)
