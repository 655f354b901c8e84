"""Model merging: linear interpolation and TIES (Yadav et al. 2023), on same-architecture models.

TIES merges the *task vectors* tau_i = theta_i - theta_base: trim each to its largest ``density``
fraction by magnitude, elect a sign per entry by the sign of the summed trimmed vectors, and average
only the entries that agree with it; the result is base + lambda * merged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from heredity.errors import InputError
from heredity.forge.derive.names import Arrays, Derived


def _check_same(models: list[Arrays], what: str) -> None:
    names = set(models[0])
    for m in models[1:]:
        if set(m) != names or any(m[k].shape != models[0][k].shape for k in names):
            raise InputError(f"{what} needs models with identical tensor names and shapes",
                             fix="merge models of one architecture (derive width/depth first if needed)")


def linear_merge(models: list[Arrays], config: dict[str, Any], weights: list[float] | None = None) -> Derived:
    """sum_i w_i theta_i with weights normalised to sum to one (default: equal)."""
    _check_same(models, "linear merge")
    w = np.asarray(weights if weights is not None else [1.0] * len(models), dtype=np.float64)
    if len(w) != len(models) or w.sum() <= 0:
        raise InputError("one positive weight per model is needed", fix="e.g. --weight 0.5")
    w = w / w.sum()
    out = {k: np.einsum("m,m...->...", w, np.stack([m[k] for m in models])).astype(np.float32) for k in models[0]}
    return out, dict(config)


def _trim(tau: np.ndarray, density: float) -> np.ndarray:
    """Keep the top ``density`` fraction of entries by magnitude, zero the rest."""
    k = int(np.ceil(density * tau.size))
    if k >= tau.size:
        return tau
    cut = np.partition(np.abs(tau).ravel(), tau.size - k)[tau.size - k]
    return np.where(np.abs(tau) >= cut, tau, 0.0).astype(np.float32)


def _ties_tensor(base: np.ndarray, others: list[np.ndarray], density: float, lam: float) -> np.ndarray:
    taus = np.stack([_trim(o - base, density) for o in others])  # (M, ...)
    sign = np.sign(taus.sum(axis=0))
    agree = (np.sign(taus) == sign) & (taus != 0)
    merged = (taus * agree).sum(axis=0) / np.maximum(agree.sum(axis=0), 1)
    return (base + lam * merged).astype(np.float32)


def ties_merge(base: Arrays, models: list[Arrays], config: dict[str, Any], density: float = 0.2,
               lam: float = 1.0) -> Derived:
    """TIES-merge ``models`` (fine-tunes of ``base``) back onto ``base``."""
    _check_same([base, *models], "TIES merge")
    if not 0 < density <= 1:
        raise InputError(f"density {density} must be in (0, 1]", fix="e.g. --density 0.2")
    return {k: _ties_tensor(base[k], [m[k] for m in models], density, lam) for k in base}, dict(config)
