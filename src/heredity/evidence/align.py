"""Putting B's weights into A's residual-stream basis before comparing rows.

Row comparisons (MLP neurons, experts) need a common hidden basis, but the residual stream's channels
can be permuted and sign-flipped without changing the function (obfuscation), and a norm's scale can be
moved into the next linear layer.  Two steps undo that:

1. **Fold** the preceding norm into each matrix (``W * norm``): a scale moved between the norm and the
   linear layer cancels exactly.
2. **Align channels** through the token embedding: column ``c`` of the embedding is a profile over the
   vocabulary, and tokens are not exchangeable, so channel ``c`` of A is matched to the channel of B
   with the most correlated profile (one-to-one on ``|corr|``, sign kept: :func:`one_to_one`).  If the channels already
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


def _profiles(e: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    e = e.astype(dtype) - e.mean(axis=0, keepdims=True, dtype=dtype)
    norms = np.linalg.norm(e, axis=0, keepdims=True)
    return e / np.where(norms > 0, norms, 1.0)


def _shared_rows(a: Features, b: Features) -> tuple[np.ndarray, np.ndarray] | None:
    """The first embedding rows of both sides, as many on each (None when a side has no embedding)."""
    va, vb = a.spec.vocab_size or MAX_TOKENS, b.spec.vocab_size or MAX_TOKENS
    tokens = min(va, vb, MAX_TOKENS)
    ea, eb = _embedding(a, tokens), _embedding(b, tokens)
    if ea is None or eb is None:
        return None
    tokens = min(ea.shape[0], eb.shape[0])
    return ea[:tokens], eb[:tokens]


def _signs(corr: np.ndarray) -> np.ndarray:
    """The sign of each matched channel's correlation (+1 where it is exactly 0)."""
    signs = np.sign(corr).astype(np.float32)
    signs[signs == 0] = 1.0
    return signs


def align_hidden(a: Features, b: Features) -> HiddenMap:
    """The channel map from A's residual basis to B's (see the module docstring)."""
    ha, hb = a.spec.hidden_size, b.spec.hidden_size
    shared = _shared_rows(a, b)
    if shared is None or ha is None or hb is None:
        n = min(ha or 0, hb or 0)
        return identity_map(n, "identity (no embedding to align channels with)")
    ea, eb = shared
    corr = _profiles(ea).T @ _profiles(eb)  # [ha, hb]
    if ha == hb and float(np.median(np.abs(np.diag(corr)))) > IDENTITY_MEDIAN:
        return identity_map(ha, "identity (embedding columns already aligned)")
    if max(ha, hb) > MAX_ALIGN:
        return identity_map(min(ha, hb), f"identity (hidden size over {MAX_ALIGN}: alignment skipped)")
    return _assign(corr)


def align_channels(a: Features, b: Features, chans: np.ndarray) -> HiddenMap:
    """The channels of B that correspond to A's channels ``chans`` (``idx_a`` is ``chans``; ``idx_b``
    and ``signs`` their counterparts), found as :func:`align_hidden` finds them but only for those
    channels: a ``len(chans) x hidden_b`` assignment instead of a ``hidden x hidden`` one."""
    chans = np.asarray(chans, dtype=np.int64)
    ha, hb = a.spec.hidden_size, b.spec.hidden_size
    shared = _shared_rows(a, b)
    ones = np.ones(len(chans), dtype=np.float32)
    if shared is None or ha is None or hb is None or shared[0].shape[1] != ha or shared[1].shape[1] != hb:
        return HiddenMap(chans, chans, ones, "identity (no embedding to align channels with)")
    ea, eb = shared
    corr = _profiles(ea[:, chans], np.float32).T @ _profiles(eb, np.float32)  # [len(chans), hb]
    if ha == hb and float(np.median(np.abs(corr[np.arange(len(chans)), chans]))) > IDENTITY_MEDIAN:
        return HiddenMap(chans, chans, ones, "identity (embedding columns already aligned)")
    cols = one_to_one(np.abs(corr))
    return HiddenMap(chans, cols, _signs(corr[np.arange(len(chans)), cols]), f"embedding-column correlations, {len(chans)} of A's channels matched "
                                         f"one-to-one into {hb}")


def _assign(corr: np.ndarray) -> HiddenMap:
    swap = corr.shape[0] > corr.shape[1]
    c = corr.T if swap else corr
    cols = one_to_one(np.abs(c))
    rows = np.arange(c.shape[0])
    idx_a, idx_b = (cols, rows) if swap else (rows, cols)
    return HiddenMap(idx_a, idx_b, _signs(c[rows, cols]), f"embedding-column correlations, matched one-to-one over {len(rows)} channels")


GREEDY_ROUNDS = 2  # more rounds cost more argmax passes than the smaller exact solve saves (measured at 4096)


def one_to_one(score: np.ndarray) -> np.ndarray:
    """A one-to-one map of rows into columns (rows <= columns) with high total ``score``: each row whose
    best column no other remaining row also prefers takes it, for a few rounds over what is left; the
    rows still unplaced are then solved exactly (Hungarian) among the free columns.

    When channels really correspond (a derived model), every row's best column is its own and no
    assignment is solved at all; between unrelated models any one-to-one map serves (the statistics that
    use it are valid for any map that depends on the embeddings alone), and the exact solve shrinks to
    the few rows the rounds leave, instead of a cubic solve over every channel."""
    n, m = score.shape
    out = np.full(n, -1, dtype=np.int64)
    rows, cols = np.arange(n), np.arange(m)
    for _ in range(GREEDY_ROUNDS):
        if rows.size == 0:
            break
        best = np.argmax(score[np.ix_(rows, cols)], axis=1)
        claimed = np.bincount(best, minlength=cols.size)
        sole = claimed[best] == 1
        if not sole.any():
            break
        out[rows[sole]] = cols[best[sole]]
        taken = np.zeros(cols.size, dtype=bool)
        taken[best[sole]] = True
        rows, cols = rows[~sole], cols[~taken]
    if rows.size:
        out[rows] = cols[hungarian(-score[np.ix_(rows, cols)])]
    return out
