"""Build a :class:`Fingerprint` from a model (reads every tensor once: vectors, std, hashes)."""

from __future__ import annotations

import numpy as np

from heredity.evidence.features import hash_array, role_key
from heredity.fingerprint.model import Fingerprint
from heredity.layouts.model import Model
from heredity.stats import is_constant


def extract(model: Model, *, hashes: bool = True) -> Fingerprint:
    """The fingerprint of ``model``; ``hashes=False`` skips hashing (then `identical` cannot run)."""
    fp = Fingerprint(source=model.checkpoint.source, spec=model.spec,
                     keys=[role_key(*r.key) for r in model.refs],
                     params=sum(i.numel for i in model.checkpoint.tensors.values()))
    for ref in model.refs:
        w = model.load(ref)
        key = role_key(*ref.key)
        if w.ndim == 1:
            fp.vectors[key] = w.astype(np.float32)
        elif ref.layer is not None:
            fp.std.setdefault(ref.role.value, {})[ref.layer] = float(np.std(w))
        if hashes:
            fp.hashes[key] = (hash_array(w), int(w.size), is_constant(w))
    return fp
