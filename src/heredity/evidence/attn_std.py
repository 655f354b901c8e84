"""`attn_std`: the public HonestAGI fingerprint, reproduced, and labelled descriptive.

For each layer, the standard deviation of the q, k, v and o weight matrices; each of the four curves
is normalised (z-scored over layers); the statistic is the Pearson correlation of the concatenated
curves of A and B.  When depths differ, B's curves are linearly interpolated onto A's depth (relative
position ``i / (L - 1)``) before normalising.

Why descriptive: std curves follow depth trends that any model of a recipe shares (0.91 for the
unrelated deepseek-llm-7b vs llama2-7b), and there is no exchangeable unit to permute, so no valid
p-value exists.  The p-value reported is the naive Pearson t-test one, shown for comparison only.
"""

from __future__ import annotations

import numpy as np

from heredity.errors import NotApplicableError
from heredity.evidence.base import EvidenceTest, ReadItem, ReadPlan
from heredity.evidence.features import Features
from heredity.layouts.roles import Role
from heredity.plotdata import CurvesPlot, floats
from heredity.results import Evidence, Exclusion, Power
from heredity.stats import pearson_p

ROLES = (Role.Q, Role.K, Role.V, Role.O)
MIN_ROWS = 16  # a sampled matrix is never read from fewer rows than this
PUBLISHED_NULL = "0.91 for unrelated deepseek-llm-7b vs llama2-7b (public dispute, 2025)"


def curve(f: Features, role: Role, max_rows: int | None = None) -> tuple[np.ndarray, float, float]:
    """Per-layer std of ``role`` over all layers (NaN where a layer lacks it), the largest relative
    standard error of a sampled layer's estimate (0 when every row was read), and the share of rows read."""
    stds = f.layer_std(role, max_rows)
    values = np.array([stds[i].std if i in stds else np.nan for i in range(f.spec.layers)], dtype=np.float64)
    rel = [s.se / s.std for s in stds.values() if s.std > 0 and np.isfinite(s.std)]
    rows, of = sum(s.rows for s in stds.values()), sum(s.of for s in stds.values())
    return values, max(rel, default=0.0), (rows / of if of else 1.0)


def resample(c: np.ndarray, length: int) -> np.ndarray:
    if c.size == length:
        return c
    return np.interp(np.linspace(0, 1, length), np.linspace(0, 1, c.size), c)


def zscore(c: np.ndarray) -> np.ndarray:
    sd = float(np.std(c))
    return (c - c.mean()) / sd if sd > 0 else c - c.mean()


class AttnStdTest(EvidenceTest):
    """Pearson correlation of normalised per-layer attention std curves (HonestAGI)."""

    name = "attn_std"
    compares = "per-layer std curves of q/k/v/o (HonestAGI)"
    descriptive = True

    def __init__(self, seed: int = 0, max_rows: int = 256, budget_mib: int = 64) -> None:
        super().__init__(seed)
        if max_rows < 0 or budget_mib < 0:
            raise ValueError("max_rows and budget_mib must be >= 0 (0: read every row)")
        self.max_rows = int(max_rows)
        self.budget_mib = int(budget_mib)

    def rows_for(self, f: Features) -> int | None:
        """Rows to read of each matrix: ``max_rows``, fewer if that would pass ``budget_mib`` per side
        (never under :data:`MIN_ROWS`); None to read every row."""
        if not self.max_rows:
            return None
        if not self.budget_mib:
            return self.max_rows
        per_row = sum(f.stored_bytes(r, layer, rows=1) for r in ROLES for layer in f.layers_with(r))
        fit = (self.budget_mib << 20) // max(per_row, 1)
        return int(min(self.max_rows, max(MIN_ROWS, fit)))

    def reads(self, a: Features, b: Features) -> ReadPlan:
        """Evenly spaced row blocks of every q, k, v and o matrix (see :meth:`rows_for`); a fingerprint
        holds the std already.  Storage that cannot be sliced by rows (transposed, GGUF) is read whole."""
        def side(f: Features) -> tuple[ReadItem, ...]:
            rows = self.rows_for(f)
            return tuple(ReadItem(r, tuple(f.layers_with(r)), rows=rows) for r in ROLES if f.layers_with(r))

        return ReadPlan(side(a), side(b), note="row blocks; whole tensors where storage cannot be sliced")

    def run(self, a: Features, b: Features) -> Evidence:
        ca, cb, used = {}, {}, []
        error, share = 0.0, 1.0
        both = [r for r in ROLES if a.layers_with(r) and b.layers_with(r)]
        for f in (a, b):  # every row block of both sides, asked for at once
            f.prefetch_std(both, self.rows_for(f))
        for role in both:
            (x, ex, sx), (y, ey, sy) = curve(a, role, self.rows_for(a)), curve(b, role, self.rows_for(b))
            if np.isfinite(x).all() and np.isfinite(y).all():
                ca[role.value], cb[role.value] = x, y
                used.append(role.value)
                error, share = max(error, ex, ey), min(share, sx, sy)
        if not used or a.spec.layers < 2 or b.spec.layers < 2:
            raise NotApplicableError("needs q/k/v/o in every layer of both models and at least 2 layers",
                                     Exclusion.STRUCTURE)
        length = a.spec.layers
        xa = np.concatenate([zscore(ca[r]) for r in used])
        xb = np.concatenate([zscore(resample(cb[r], length)) for r in used])
        r = float(np.corrcoef(xa, xb)[0, 1]) if np.std(xa) > 0 and np.std(xb) > 0 else 0.0
        naive_p = _naive_p(xa, xb)
        # No p-value: per-layer std curves have no exchangeable units, so nothing gives a null that is
        # valid under independence.  The naive Pearson p the public analysis would quote stays in the
        # detail, labelled; the statistic is read against a measured panel of independent pairs instead.
        curves = CurvesPlot("attn_std: per-layer curves of A and B",
                            "Solid: A, dashed: B, against layer index. Shared depth trends are common to "
                            "unrelated models.", {k: floats(np.round(v, 6)) for k, v in ca.items()},
                            {k: floats(np.round(v, 6)) for k, v in cb.items()})
        sampled = (f"; std from {share:.1%} of rows, largest relative standard error {error:.2%}"
                   if share < 1.0 else "")
        return self.evidence(
            r, None, f"HonestAGI attention-std correlation {r:.3f} over {'/'.join(used)} "
            f"({length} layers{', B resampled' if b.spec.layers != length else ''}{sampled}); descriptive only: "
            "independently trained models also score high (shared depth trends)",
            rows_share=share, std_relative_error=error,
            power=Power(False, "descriptive: per-layer std curves have no null valid under independence"),
            plots=[curves], context=_context(r), naive_pearson_p=naive_p, roles=used,
            p_value_method="naive Pearson t-test; not valid for lineage (no exchangeable units)",
            published_null=PUBLISHED_NULL,
        )


def _naive_p(xa: np.ndarray, xb: np.ndarray) -> float:
    """The Pearson t-test p-value the public analysis would quote (shown, never used)."""
    if xa.size <= 2 or np.std(xa) * np.std(xb) <= 0:
        return 1.0
    return pearson_p(xa, xb)


def _context(r: float) -> str:
    """What the public fingerprint says for this pair, and why it cannot decide."""
    return (f"The public fingerprint: the per-layer attention-std correlation used in the Pangu/Qwen dispute is "
            f"{r:.3f} for this pair. It is shown for comparison only and does not count towards the verdict: "
            "independently trained models also score high on it (0.91 for the unrelated deepseek-llm-7b and "
            "llama2-7b), because depth trends come from the training recipe, not from descent. The other tests "
            "compare the weights themselves, against a null that holds under independence.")
