"""What ``heredity inspect`` reports about one model: structure, dtypes, roles, unknown names.

Everything comes from the inventory (names, shapes, dtypes) and the layout mapping; no tensor bytes
are read, so inspecting a 100-GB checkpoint costs its headers.  :class:`InspectResult` is plain frozen
data; ``to_dict`` is the ``heredity.inspect/1`` JSON document and the renderers only format it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from heredity.layouts.model import Model, count_params  # noqa: F401  (count_params: also heredity.inspect's)
from heredity.layouts.roles import GLOBAL_ROLES, Role

INSPECT_SCHEMA = "heredity.inspect/1"


@dataclass(frozen=True)
class ComponentSummary:
    """Another part of the checkpoint, outside the wrapper prefix (a vision tower): reported, not mapped."""

    prefix: str
    tensors: int
    params: int


@dataclass(frozen=True)
class InspectResult:
    """The structure of one model. ``None`` where a field does not apply (experts of a dense model)."""

    source: str
    family: str
    format: str
    layers: int
    hidden_size: int | None
    heads: int | None
    kv_heads: int | None
    intermediate_size: int | None
    experts: int | None
    expert_groups: int | None
    experts_per_token: int | None
    shared_experts: int | None
    vocab_size: int | None
    params: int
    dtypes: dict[str, int]  # stored dtype -> number of tensors
    roles: dict[str, int]  # role -> number of canonical tensors
    unknown_tensors: tuple[str, ...]
    inferred: bool
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    prefix_stripped: str | None = None  # wrapper prefix the family's names were found under
    components: tuple[ComponentSummary, ...] = ()
    nonfinite: dict[str, int] | None = None  # tensor -> NaN/Inf count, from ``--scan``; None: not scanned
    renamed: dict[str, tuple[str, str]] | None = None  # exposed -> (stored name, how): ONNX names from the graph

    def to_dict(self) -> dict[str, Any]:
        """The ``heredity.inspect/1`` document (keys in the documented order)."""
        out: dict[str, Any] = {"schema": INSPECT_SCHEMA}
        for key in (
            "family", "format", "layers", "hidden_size", "heads", "kv_heads", "intermediate_size", "experts",
            "expert_groups", "experts_per_token", "shared_experts", "vocab_size", "params", "dtypes", "roles",
        ):  # fmt: skip
            out[key] = getattr(self, key)
        out["unknown_tensors"] = list(self.unknown_tensors)
        out.update(
            source=self.source, inferred=self.inferred, notes=list(self.notes), warnings=list(self.warnings)
        )
        out["prefix_stripped"] = self.prefix_stripped  # additive to heredity.inspect/1
        out["components"] = [
            {"prefix": c.prefix, "tensors": c.tensors, "params": c.params} for c in self.components
        ]
        out["nonfinite"] = self.nonfinite  # additive: null unless every value was scanned
        out["renamed"] = (  # additive: tensors a reader named itself (ONNX graph roles), null where none
            None if self.renamed is None else {k: {"stored_as": v[0], "how": v[1]} for k, v in self.renamed.items()}
        )
        return out


def inspect_model(model: Model) -> InspectResult:
    """Summarise ``model`` from its spec, refs and inventory."""
    spec = model.spec
    inventory = model.checkpoint.tensors
    renamed, graph_notes = _graph_names(model)
    return InspectResult(
        source=model.checkpoint.source,
        family=spec.family,
        format=spec.format,
        layers=spec.layers,
        hidden_size=spec.hidden_size,
        heads=spec.heads,
        kv_heads=spec.kv_heads,
        intermediate_size=spec.intermediate_size,
        experts=spec.experts,
        expert_groups=spec.expert_groups,
        experts_per_token=spec.experts_per_token,
        shared_experts=spec.shared_experts,
        vocab_size=spec.vocab_size,
        params=count_params(model),
        dtypes=dict(sorted(Counter(i.dtype for i in inventory.values()).items())),
        roles=dict(sorted(model.role_counts().items())),
        unknown_tensors=tuple(model.unknown),
        inferred=spec.inferred,
        notes=spec.notes + graph_notes,
        warnings=tuple(model.checkpoint.warnings) + tuple(missing_roles(model)),
        prefix_stripped=model.prefix or None,
        components=tuple(
            ComponentSummary(c.prefix, len(c.names), sum(inventory[n].numel for n in c.names))
            for c in model.components
        ),
        renamed=renamed,
    )


def _graph_names(model: Model) -> tuple[dict[str, tuple[str, str]] | None, tuple[str, ...]]:
    """What an ONNX reader named from the graph (exposed -> (stored, how)) and skipped, as notes."""
    ck = Model.stored_checkpoint(model.checkpoint)
    if ck.format != "onnx":
        return None, ()
    from heredity.checkpoint.onnx_reader import ONNXCheckpoint

    if not isinstance(ck, ONNXCheckpoint):
        return None, ()
    notes = []
    if ck.renamed:
        hows = Counter(how for _, how in ck.renamed.values())
        notes.append(f"{len(ck.renamed)} ONNX initialisers exposed under names found in the graph ("
                     + ", ".join(f"{n} {how}" for how, n in sorted(hows.items())) + "); JSON 'renamed' lists them")
    if ck.skipped:
        notes.append(f"{len(ck.skipped)} scalar graph constants not exposed as tensors")
    return dict(ck.renamed), tuple(notes)


def missing_roles(model: Model) -> list[str]:
    """Per-layer roles present in some dense/attention layers but absent from others, one line each."""
    by_role: dict[Role, set[int]] = {}
    for ref in model.refs:
        if ref.layer is not None and ref.expert is None and ref.role not in GLOBAL_ROLES:
            by_role.setdefault(ref.role, set()).add(ref.layer)
    all_layers = set(range(model.spec.layers))
    moe_related = _moe_layer_roles()
    out = []
    for role, layers in sorted(by_role.items(), key=lambda kv: kv[0].value):
        gap = sorted(all_layers - layers)
        if gap and role not in moe_related:
            out.append(f"role '{role.value}' missing in layers {_ranges(gap)}")
    return out


def _moe_layer_roles() -> frozenset[Role]:
    """Roles that legitimately exist only in dense or only in MoE layers (first_k_dense_replace)."""
    return frozenset(
        {Role.MLP_GATE, Role.MLP_UP, Role.MLP_DOWN, Role.ROUTER, Role.ROUTER_BIAS, Role.ROUTER_SCALE,
         Role.SHARED_GATE, Role.SHARED_UP, Role.SHARED_DOWN, Role.SHARED_EXPERT_GATE}
    )  # fmt: skip


def _ranges(values: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2, 5"``."""
    parts: list[str] = []
    start = prev = values[0]
    for v in [*values[1:], None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if v is not None:
            start = prev = v
    return ", ".join(parts)


def scan_values(model: Model) -> dict[str, int]:
    """Every stored tensor read once, streamed: tensor -> NaN/Inf count, for those that have any."""
    from heredity.checkpoint.stream import stream_all

    stats = stream_all(Model.stored_checkpoint(model.checkpoint))
    return {name: s.nan_count + s.inf_count for name, s in sorted(stats.items()) if s.nan_count + s.inf_count}
