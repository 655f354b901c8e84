"""Putting B's weights into A's residual-stream basis before comparing rows.

Row comparisons (MLP neurons, experts) need a common hidden basis, but the residual stream's channels
can be permuted and sign-flipped without changing the function (obfuscation), and a norm's scale can be
moved into the next linear layer.  Two steps undo that:

1. **Fold** the preceding norm into each matrix (``W * norm``): a scale moved between the norm and the
   linear layer cancels exactly.
2. **Align channels** through the token embedding: column ``c`` of the embedding is a profile over the
   vocabulary, and tokens are not exchangeable, so channel ``c`` of A is matched to the channel of B
   with the most correlated profile (Hungarian on ``-|corr|``, sign kept).  If the channels already
   line up (median ``|corr|`` on the diagonal above 0.3) the identity is kept and no assignment is
   solved.  The map is a function of A and B that moves with any relabelling of B's channels, so the
   statistics computed after it do not depend on how B's channels happen to be labelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heredity.evidence.features import Features
from heredity.layouts.roles import Role
from heredity.stats import hungarian

MAX_TOKENS = 4096  # embedding rows used for the channel profiles
MAX_ALIGN = 8192  # widest residual stream we solve an assignment for (cost is cubic)
IDENTITY_MEDIAN = 0.3


@dataclass(frozen=True)
class HiddenMap:
    """Channel ``idx_a[i]`` of A corresponds to channel ``idx_b[i]`` of B, up to ``signs[i]``."""

    idx_a: np.ndarray
    idx_b: np.ndarray
    signs: np.ndarray
    method: str
    identity: bool = False  # both index maps are 0..n-1 and all signs +1 (nothing to apply)

    def apply_a(self, w: np.ndarray) -> np.ndarray:
        return w if self.identity and w.shape[1] == len(self.idx_a) else w[:, self.idx_a]

    def apply_b(self, w: np.ndarray) -> np.ndarray:
        if self.identity and w.shape[1] == len(self.idx_b):
            return w
        return w[:, self.idx_b] * self.signs[None, :]


def identity_map(n: int, method: str) -> HiddenMap:
    ar = np.arange(n)
    return HiddenMap(ar, ar, np.ones(n, dtype=np.float32), method, identity=True)


def _embedding(f: Features, rows: int) -> np.ndarray | None:
    for role in (Role.EMBED, Role.LM_HEAD):
        if (e := f.first_rows(role, None, rows)) is not None:
            return e
    return None


def _profiles(e: np.ndarray) -> np.ndarray:
    e = e.astype(np.float64) - e.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(e, axis=0, keepdims=True)
    return e / np.where(norms > 0, norms, 1.0)


def align_hidden(a: Features, b: Features) -> HiddenMap:
    """The channel map from A's residual basis to B's (see the module docstring)."""
    ha, hb = a.spec.hidden_size, b.spec.hidden_size
    va, vb = a.spec.vocab_size or MAX_TOKENS, b.spec.vocab_size or MAX_TOKENS
    tokens = min(va, vb, MAX_TOKENS)
    ea, eb = _embedding(a, tokens), _embedding(b, tokens)
    if ea is None or eb is None or ha is None or hb is None:
        n = min(ha or 0, hb or 0)
        return identity_map(n, "identity (no embedding to align channels with)")
    tokens = min(ea.shape[0], eb.shape[0])
    corr = _profiles(ea[:tokens]).T @ _profiles(eb[:tokens])  # [ha, hb]
    if ha == hb and float(np.median(np.abs(np.diag(corr)))) > IDENTITY_MEDIAN:
        return identity_map(ha, "identity (embedding columns already aligned)")
    if max(ha, hb) > MAX_ALIGN:
        return identity_map(min(ha, hb), f"identity (hidden size over {MAX_ALIGN}: alignment skipped)")
    return _assign(corr)


def _assign(corr: np.ndarray) -> HiddenMap:
    swap = corr.shape[0] > corr.shape[1]
    c = corr.T if swap else corr
    cols = hungarian(-np.abs(c))
    rows = np.arange(c.shape[0])
    signs = np.sign(c[rows, cols]).astype(np.float32)
    signs[signs == 0] = 1.0
    idx_a, idx_b = (cols, rows) if swap else (rows, cols)
    return HiddenMap(idx_a, idx_b, signs, f"Hungarian on embedding-column correlations over {len(rows)} channels")
