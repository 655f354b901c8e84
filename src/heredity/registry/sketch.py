"""What the search prefilter keeps per entry: a shape signature and a small permutation-robust sketch.

**Shape signature** — ``h{hidden}.v{vocab}.L{layers}.i{intermediate}.x{experts}``: the architecture's
sizes without the family name (a renamed copy has the same signature).  It is an indexed column; the
prefilter gives entries of the query's exact signature their own shortlist, because fine-tunes,
quantised copies and obfuscated copies keep it.

**Sketch** — :data:`SKETCH_TOKENS` numbers: the norms of the first embedding rows (one per token),
rank-standardised.  A row's norm does not change when the hidden channels are permuted or signs are
flipped, barely changes under per-channel rescaling, quantisation or fine-tuning, and does not depend on
depth, width of the MLP, experts or family name, so it is comparable across every kind of derivation the
search must find.  Independent models trained on similar text share some of it (frequent tokens), so it
only *ranks* entries; p-values come from the full comparison of the shortlisted ones.
"""

from __future__ import annotations

import numpy as np

from heredity.evidence.features import role_key
from heredity.fingerprint.model import Fingerprint
from heredity.layouts.roles import Role
from heredity.stats import rank_standardise

SKETCH_TOKENS = 256
SKETCH_DTYPE = np.float32


def shape_signature(fp: Fingerprint) -> str:
    s = fp.spec
    return f"h{s.hidden_size}.v{s.vocab_size}.L{s.layers}.i{s.intermediate_size}.x{s.experts or 0}"


def sketch(fp: Fingerprint) -> np.ndarray:
    """The prefilter sketch (unit norm, or all zeros when the fingerprint kept no embedding rows)."""
    out = np.zeros(SKETCH_TOKENS, dtype=SKETCH_DTYPE)
    for role in (Role.EMBED, Role.LM_HEAD):
        rows = fp.rows.get(role_key(role, None))
        if rows is not None and rows.ndim == 2 and rows.shape[0] >= 3:
            norms = np.linalg.norm(rows[:SKETCH_TOKENS].astype(np.float64), axis=1)
            if np.all(np.isfinite(norms)) and np.ptp(norms) > 0:
                out[: norms.size] = rank_standardise(norms)
            break
    return out


def scores(query: np.ndarray, sketches: np.ndarray) -> np.ndarray:
    """Similarity of the query's sketch with every row of ``sketches`` ([n, SKETCH_TOKENS]); entries
    with a shorter vocabulary are compared over the tokens both have (zeros elsewhere)."""
    if sketches.size == 0:
        return np.zeros(0)
    return np.abs(sketches.astype(np.float32) @ query.astype(np.float32))
