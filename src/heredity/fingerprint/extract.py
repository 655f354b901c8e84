"""Build a :class:`Fingerprint` from a model (reads every tensor once: vectors, std, hashes)."""

from __future__ import annotations

import numpy as np

from heredity.evidence.features import finite_std, hash_array, role_key
from heredity.fingerprint.model import Fingerprint
from heredity.layouts.model import Model, count_params
from heredity.layouts.roles import Role
from heredity.stats import finite, is_constant

SKETCH_ROWS = 128  # MLP neurons kept per sketched layer
SKETCH_LAYERS = 8  # evenly spaced layers sketched (the `matching` test's default sample)
SKETCH_TOKENS = 1024  # embedding rows kept for aligning residual channels


def sketch_layers(layers: int) -> set[int]:
    from heredity.evidence.matching import sample_layers

    return {a for a, _ in sample_layers([(i, i) for i in range(layers)], SKETCH_LAYERS)}


def extract(model: Model, *, hashes: bool = True) -> Fingerprint:
    """The fingerprint of ``model``; ``hashes=False`` skips hashing (then `identical` cannot run)."""
    fp = Fingerprint(source=model.checkpoint.source, spec=model.spec,
                     keys=[role_key(*r.key) for r in model.refs],
                     params=count_params(model))
    sketched = sketch_layers(model.spec.layers)
    for ref in model.refs:
        raw = model.load(ref)
        w = finite(raw)  # NaN/Inf carry no weight in what the fingerprint keeps
        key = role_key(*ref.key)
        if _sketched(ref.role, ref.layer, ref.expert, sketched):
            fp.rows[key] = w[: SKETCH_TOKENS if ref.role == Role.EMBED else SKETCH_ROWS].astype(np.float16)
        if w.ndim == 1:
            fp.vectors[key] = w.astype(np.float32)
        elif ref.layer is not None:
            fp.std.setdefault(ref.role.value, {})[ref.layer] = finite_std(raw)
        if hashes:
            fp.hashes[key] = (hash_array(raw), int(raw.size), is_constant(w))
    return fp


def _sketched(role: Role, layer: int | None, expert: int | None, layers: set[int]) -> bool:
    if expert is not None:
        return False
    return role == Role.EMBED or (role in (Role.MLP_GATE, Role.MLP_UP) and layer in layers)
