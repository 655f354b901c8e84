"""`neurons`: do a plain MLP's input and output weights agree on which neuron of A is which neuron of B?

The permutation-robust weight test for families without a gated MLP (BERT, GPT-2 and other encoders:
``up`` ``[ffn, hidden]``, an activation, ``down`` ``[hidden, ffn]``).  A neuron ``j`` is a read
direction (row ``j`` of ``up``, with its bias) and a write direction (column ``j`` of ``down``); relabelling
the neurons permutes both with one permutation.  For each paired layer, A's neurons are matched to B's
by an optimal assignment (Hungarian, cost ``-|cos|``) twice: on the read side and, independently, on the
write side, both in A's residual basis (:mod:`heredity.evidence.align`).  If B descends from A both
assignments recover the same correspondence; if the models are independent each is noise, and the
number of neurons on which they agree has the Poisson-type null of `matching`
(:func:`heredity.stats.agreement_p`).  Layers are combined with Fisher (each layer's neurons are
relabelled independently).

What is folded in before matching, so a function-preserving rewrite cannot hide the correspondence:

* the norm that feeds the MLP (``mlp_norm``; a post-LN encoder's attention-output LayerNorm): its scale
  multiplies the up columns and its bias moves into the up bias (``b + up @ beta``);
* the up bias, as one more coordinate of the read direction (the neuron computes ``u . x + b``);
* a post-LN encoder's output LayerNorm scale multiplies the down rows (it weighs each channel the
  neuron writes to).

What is removed, so the two assignments are not coupled under independence (the null's assumption):

* a direction shared by all neurons: the read side has its mean row subtracted, the write side is
  centred over neurons;
* any *linear* coupling of a neuron's write direction to its read direction (training makes ``down``
  columns partly a function of the same neuron's ``up`` row, and a scalar coupling such as
  ``d_j = c u_j`` is shared by independent models): each hidden column of the write side, a vector over
  neurons, is projected orthogonal to the span of the read side's columns (and the constant).  That
  removes every ``d_j ~ M u_j`` at once; it needs ``ffn`` well above ``hidden`` (else a per-neuron
  projection ``d_j - c_j u_j`` is used, as `matching` does for gate/up).

The test does not apply where the model has a gated MLP (`matching` covers those, and adding a voting
test there would change the verdicts' multiple-testing correction), nor to fingerprints (their sketch
holds no ``down`` columns).  Calibration on independent pairs: docs/LOG.md.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from heredity.errors import NotApplicableError
from heredity.evidence import pairing
from heredity.evidence.align import MAX_TOKENS, HiddenMap, align_hidden
from heredity.evidence.base import ReadItem, ReadPlan
from heredity.evidence.features import Features, require_weights
from heredity.evidence.units import UnitMatchingTest, agreeing_needed, assign, sample_layers
from heredity.layouts.roles import Role
from heredity.plotdata import PerLayerPlot
from heredity.results import Evidence, Exclusion, Power
from heredity.stats import agreement_p, fisher_combine, spearman

MIN_LAYERS = 2  # fewer matched layers are not enough to call a pair independent
GATED_ROLES = (Role.MLP_GATE, Role.EXPERT_GATE, Role.SHARED_GATE)
#: ffn / (hidden + 2) below this: the full linear decoupling would leave too little; project per neuron.
MIN_SPAN_RATIO = 2.0


class NeuronsTest(UnitMatchingTest):
    """Agreement of read-side (up row + bias) and write-side (down column) neuron matchings."""

    name = "neurons"
    compares = "neuron alignment of plain MLPs, up rows vs down columns (Hungarian)"
    # Needs full weights (a fingerprint's sketch has no down columns), but ``needs_weights`` stays False:
    # on gated models, the only ones a fingerprint sketches for `matching`, the test does not apply for
    # a structural reason, and saying "a fingerprint prevented it" there would be wrong.  A fingerprint
    # of a plain-MLP model gets Exclusion.FINGERPRINT from run().

    def reads(self, a: Features, b: Features) -> ReadPlan:
        """Up, down, up bias and the norms around the MLP of up to ``max_layers`` evenly spaced layers of
        each side, and the first embedding rows (for aligning channels); nothing for gated models."""
        if _gated(a) or _gated(b):
            return ReadPlan(note="not applicable: gated MLP (`matching` covers it)")
        return ReadPlan(plain_mlp_reads(a, self.max_layers), plain_mlp_reads(b, self.max_layers),
                        note="layers sampled per side; when depths differ the pairing may pick others")

    def run(self, a: Features, b: Features) -> Evidence:
        if _gated(a) or _gated(b):
            raise NotApplicableError("the MLP is gated (gate, up, down): `matching` covers it", Exclusion.STRUCTURE)
        require_weights(a, "neurons")
        require_weights(b, "neurons")
        pairs = self._pairs(a, b)
        hmap = align_hidden(a, b)
        rng = np.random.default_rng(self.seed)
        per_layer = {f"{la}~{lb}": self._layer(a, b, la, lb, hmap, rng) for la, lb in pairs}
        return self._result(per_layer, hmap)

    def _pairs(self, a: Features, b: Features) -> list[tuple[int, int]]:
        pairs, _ = pairing.layer_pairs(a, b)
        have = [(la, lb) for la, lb in pairs if has_plain_mlp(a, la) and has_plain_mlp(b, lb)]
        if not have:
            raise NotApplicableError("no paired layer has an MLP (up and down) on both sides", Exclusion.STRUCTURE)
        return sample_layers(have, self.max_layers)

    def _layer(self, a: Features, b: Features, la: int, lb: int, hmap: HiddenMap,
               rng: np.random.Generator) -> dict[str, float]:
        ra, wa = neuron_families(a, la)
        rb, wb = neuron_families(b, lb)
        for f, read, write in ((a, ra, wa), (b, rb, wb)):
            if read.shape[1] - 1 != f.spec.hidden_size or write.shape != (read.shape[0], read.shape[1] - 1):
                raise NotApplicableError("MLP up/down shapes do not match the hidden size", Exclusion.SHAPES)
        ra, wa = in_basis(ra, wa, hmap.apply_a)
        rb, wb = in_basis(rb, wb, hmap.apply_b)
        out = match_read_write(ra, wa, rb, wb, rng, self.max_rows)
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in out.items()}

    def _result(self, per_layer: dict[str, dict[str, float]], hmap: HiddenMap) -> Evidence:
        p = fisher_combine([v["p_value"] for v in per_layer.values()])
        agree = float(np.mean([v["agree"] for v in per_layer.values()]))
        rho = float(np.mean([v["spearman"] for v in per_layer.values()]))
        rows = int(np.median([v["rows"] for v in per_layer.values()]))
        wide = int(np.median([v["wide"] for v in per_layer.values()]))
        summary = (f"{len(per_layer)} layers, {rows} neurons each: up- and down-based matchings agree on "
                   f"{agree:.1%} of neurons (chance ~{1 / max(wide, 1):.1%}); p={p:.3g}")
        need = agreeing_needed(rows, wide)
        power = (f"{len(per_layer)} layers x {rows} neurons: {need} agreeing neurons ({need / max(rows, 1):.1%}) "
                 f"in a single layer reach p<1e-6")
        return self.evidence(agree, p, summary, power=Power(len(per_layer) >= MIN_LAYERS, power),
                             plots=per_layer_plot(per_layer),
                             statistic_name="mean fraction of neurons matched alike by up rows and down columns",
                             per_layer=per_layer, hidden_alignment=hmap.method, layers_compared=len(per_layer),
                             mean_spearman=rho)


def _gated(f: Features) -> bool:
    return any(f.layers_with(r) for r in GATED_ROLES)


def has_plain_mlp(f: Features, layer: int) -> bool:
    return f.has(Role.MLP_UP, layer) and f.has(Role.MLP_DOWN, layer)


def input_norm(f: Features, layer: int) -> tuple[Role, Role] | None:
    """The norm (scale, bias roles) whose output the MLP reads: ``mlp_norm`` (pre-LN), else a post-LN
    encoder's attention-output LayerNorm."""
    for scale, bias in ((Role.MLP_NORM, Role.MLP_NORM_BIAS), (Role.POST_ATTN_NORM, Role.POST_ATTN_NORM_BIAS)):
        if f.has(scale, layer):
            return scale, bias
    return None


def neuron_families(f: Features, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """Read side ``[ffn, hidden + 1]`` (up rows times the input norm's scale, then the effective bias)
    and write side ``[ffn, hidden]`` (down columns, times a post-LN output norm's scale)."""
    up = f.matrix(Role.MLP_UP, layer).astype(np.float64)
    down = f.matrix(Role.MLP_DOWN, layer).astype(np.float64).T
    bias = f.vector(Role.MLP_UP_BIAS, layer).astype(np.float64) if f.has(Role.MLP_UP_BIAS, layer) else None
    if bias is None or bias.size != up.shape[0]:
        bias = np.zeros(up.shape[0])
    norm = input_norm(f, layer)
    if norm is not None:
        if f.has(norm[1], layer) and (beta := f.vector(norm[1], layer)).size == up.shape[1]:
            bias = bias + up @ beta.astype(np.float64)
        if (gamma := f.vector(norm[0], layer)).size == up.shape[1]:
            up = up * gamma[None, :]
    post_ln = not f.has(Role.MLP_NORM, layer) and f.has(Role.POST_MLP_NORM, layer)
    if post_ln and (gamma := f.vector(Role.POST_MLP_NORM, layer)).size == down.shape[1]:
        down = down * gamma[None, :]
    return np.concatenate([up, bias[:, None]], axis=1), down


def in_basis(read: np.ndarray, write: np.ndarray,
             apply: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Both families in A's residual basis (``apply``: :meth:`HiddenMap.apply_a` or ``apply_b``); the
    bias column stays last."""
    return np.concatenate([apply(read[:, :-1]), read[:, -1:]], axis=1), apply(write)


def decouple(read: np.ndarray, write: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove shared and per-neuron linear structure (module docstring); unit rows out."""
    r = read - read.mean(axis=0, keepdims=True)
    w = write - write.mean(axis=0, keepdims=True)
    n = r.shape[0]
    if n >= MIN_SPAN_RATIO * (r.shape[1] + 1):
        span = r[:, np.linalg.norm(r, axis=0) > 0]  # a zero column (no bias) spans nothing
        q, _ = np.linalg.qr(span)  # centred columns are already orthogonal to the constant
        w = w - q @ (q.T @ w)
    else:
        rh = r[:, : w.shape[1]]  # the hidden part of the read side (the bias column is last)
        rr = np.einsum("ij,ij->i", rh, rh)
        w = w - (np.einsum("ij,ij->i", w, rh) / np.where(rr > 0, rr, 1.0))[:, None] * rh
    return _unit_rows(r), _unit_rows(w)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norm > 0, norm, 1.0)).astype(np.float32)


def match_read_write(ra: np.ndarray, wa: np.ndarray, rb: np.ndarray, wb: np.ndarray, rng: np.random.Generator,
                     max_rows: int) -> dict[str, float]:
    """Match neurons of A and B on the read side and on the write side; how often the two agree."""
    ra, wa = decouple(ra, wa)
    rb, wb = decouple(rb, wb)
    if ra.shape[0] > rb.shape[0]:
        ra, wa, rb, wb = rb, wb, ra, wa
    k = min(max_rows, ra.shape[0])
    pick = np.sort(rng.choice(ra.shape[0], size=k, replace=False))
    pr, pw = assign(ra[pick], rb), assign(wa[pick], wb)
    agree = int(np.sum(pr == pw))
    return {"agree": agree / k, "agree_count": agree, "rows": k, "wide": int(rb.shape[0]),
            "p_value": agreement_p(agree, k, rb.shape[0]), "spearman": spearman(pr, pw) if k >= 3 else 0.0}


def per_layer_plot(per_layer: dict[str, dict[str, float]]) -> list[PerLayerPlot]:
    """Share of neurons both matchings pair alike, per layer (x: layer of A), beside chance."""
    agree = tuple((float(k.split("~")[0]), float(v["agree"])) for k, v in per_layer.items())
    chance = tuple((float(k.split("~")[0]), 1.0 / max(float(v["wide"]), 1.0)) for k, v in per_layer.items())
    return [PerLayerPlot("neurons: per-layer agreement of up- and down-based matchings",
                         "Share of A's sampled neurons that up rows and down columns match to the same neuron of B "
                         "(x: layer of A). Independent models stay at chance (1 / neurons of B).",
                         {"agreement": agree, "chance": chance}, "share of neurons")]


def plain_mlp_reads(f: Features, max_layers: int) -> tuple[ReadItem, ...]:
    """Up, down, up bias and the norms around the MLP of ``max_layers`` evenly spaced layers, plus the
    first embedding rows."""
    layers = f.layers_with(Role.MLP_UP)
    picked = tuple(x for x, _ in sample_layers([(x, x) for x in layers], max_layers))
    roles = (Role.MLP_UP, Role.MLP_DOWN, Role.MLP_UP_BIAS, Role.MLP_NORM, Role.MLP_NORM_BIAS, Role.POST_ATTN_NORM,
             Role.POST_ATTN_NORM_BIAS, Role.POST_MLP_NORM)
    return (*(ReadItem(r, picked) for r in roles), ReadItem(Role.EMBED, rows=MAX_TOKENS))
