"""Synthetic fingerprints for benchmarks and durability tests, built in milliseconds.

A *base* is the fingerprint of a random model from :func:`heredity.synth.make_checkpoint`; a *derived*
entry is a base with noise added to every stored array (a stand-in for a fine-tune: its vectors and
sketch rows stay correlated with the base's) and fresh tensor hashes (no tensor is bit-identical).
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from heredity.fingerprint.model import Fingerprint


def base_fingerprint(seed: int, *, family: str = "llama", layers: int = 2, hidden: int = 32,
                     intermediate: int = 64, vocab: int = 256) -> Fingerprint:
    """The fingerprint of a random ``family`` model (all sizes small)."""
    from heredity.fingerprint import extract
    from heredity.layouts.load import model_from_checkpoint
    from heredity.synth import make_checkpoint

    ck = make_checkpoint(family, layers=layers, hidden=hidden, heads=4, kv_heads=2, intermediate=intermediate,
                         vocab=vocab, seed=seed)
    fp = extract(model_from_checkpoint(ck))
    return dataclasses.replace(fp, source=f"synthetic-base-{seed}")


def derived_fingerprint(base: Fingerprint, seed: int, noise: float = 0.3) -> Fingerprint:
    """``base`` with relative gaussian noise ``noise`` on every array and new (unique) tensor hashes."""
    rng = np.random.default_rng(seed)

    def jitter(v: np.ndarray) -> np.ndarray:
        x = v.astype(np.float32)
        scale = float(np.std(x)) or 1.0
        return (x + rng.normal(0.0, noise * scale, size=x.shape)).astype(v.dtype)

    def fresh(key: str, value: tuple[str, int, bool]) -> tuple[str, int, bool]:
        return (hashlib.sha256(f"{seed}:{key}:{value[0]}".encode()).hexdigest(), value[1], value[2])

    std = {role: {layer: s * float(1 + noise * 0.1 * rng.standard_normal()) for layer, s in d.items()}
           for role, d in base.std.items()}
    return dataclasses.replace(
        base, source=f"synthetic-{seed}", vectors={k: jitter(v) for k, v in base.vectors.items()},
        rows={k: jitter(v) for k, v in base.rows.items()}, std=std,
        hashes={k: fresh(k, v) for k, v in base.hashes.items()},
    )
