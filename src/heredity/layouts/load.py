"""``load_model``: open a checkpoint, pick its family table, map every stored name to canonical refs.

Names the table does not know are handed to :mod:`heredity.layouts.infer`; whatever is still unknown
is listed in ``Model.unknown`` so that ``inspect`` can show it and tests can refuse to score it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from heredity.checkpoint import open_checkpoint
from heredity.checkpoint.base import Checkpoint, TensorInfo
from heredity.layouts.expand import refs_for
from heredity.layouts.infer import infer_refs, layer_of
from heredity.layouts.model import Model, TensorRef
from heredity.layouts.registry import detect, name_index
from heredity.layouts.schema import Layout
from heredity.layouts.spec import SpecInputs, build_spec, config_int, flatten_config


def load_model(source: str | os.PathLike[str] | Checkpoint) -> Model:
    """A canonical, role-addressed :class:`Model` over ``source`` (a path, hub id or open checkpoint).

    Only headers are read.  Paths and hub ids go through :func:`heredity.checkpoint.open_checkpoint`.
    """
    checkpoint = source if isinstance(source, Checkpoint) else open_checkpoint(source)
    return model_from_checkpoint(checkpoint)


def model_from_checkpoint(checkpoint: Checkpoint) -> Model:
    """Map an already open checkpoint (headers only); config/shape disagreements become its warnings."""
    inventory = checkpoint.tensors
    config = flatten_config(checkpoint.config or {})
    detection = detect(config, checkpoint.format, inventory.keys())
    notes = [detection.reason]
    refs, unknown = _map_names(detection.layout, config, inventory, checkpoint.source, notes)
    inp = SpecInputs(detection.layout, config, refs, {n: i.shape for n, i in inventory.items()},
                     checkpoint.format, notes)  # fmt: skip
    spec = build_spec(inp)
    for w in inp.warnings:
        if w not in checkpoint.warnings:
            checkpoint.warnings.append(w)
    return Model(checkpoint=checkpoint, spec=spec, refs=refs, unknown=unknown)


def _map_names(
    layout: Layout | None,
    config: dict[str, Any],
    inventory: Mapping[str, TensorInfo],
    source: str,
    notes: list[str],
) -> tuple[list[TensorRef], list[str]]:
    refs: list[TensorRef] = []
    leftover: list[str] = []
    ignored = mtp = 0
    heads = _unpermute_heads(layout, config)
    index = name_index(layout.family) if layout else None
    mtp_from = _mtp_first_layer(layout, config)
    for name, info in inventory.items():
        if mtp_from is not None and (layer_of(name)[0] or -1) >= mtp_from:
            mtp += 1
            continue
        match = index.match(name) if index else None
        if match is not None:
            refs.extend(refs_for(match, info, heads, source))
        elif index is not None and index.is_ignored(name):
            ignored += 1
        else:
            leftover.append(name)
    if mtp:
        notes.append(f"{mtp} tensors of multi-token-prediction layers (index >= {mtp_from}) skipped")
    if ignored:
        notes.append(f"{ignored} non-weight buffers ignored (RoPE tables, masks, position ids)")
    inferred, unknown = infer_refs([inventory[n] for n in leftover], refs)
    if inferred:
        notes.append(f"{len(inferred)} tensors mapped by name/shape inference, not by a family table")
    return refs + inferred, unknown


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
