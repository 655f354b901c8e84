"""Tiny hand-built models with known ground truth for the evidence tests.

Weights live in a plain dict keyed by ``role_key`` so derivations (fine-tune, obfuscation, pruning,
upcycling) are a few array operations; :func:`to_model` wraps them as a :class:`Model`.  The "trained"
flavour adds the structure that fools naive statistics: norms sharing a channel profile across layers,
outlier channels, a depth trend, gate/up rows coupled per neuron, and down columns (a neuron's output
weights) that mostly lie in a few shared directions, with a few neurons writing large values into the
outlier channels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from heredity.checkpoint.base import MemoryCheckpoint
from heredity.evidence.features import ModelFeatures, parse_role_key, role_key
from heredity.layouts.model import Model, ModelSpec, TensorRef
from heredity.layouts.roles import Role

R = Role


@dataclass(frozen=True)
class Toy:
    """Sizes of a toy llama-like model."""

    layers: int = 4
    hidden: int = 64
    heads: int = 4
    kv_heads: int = 2
    inter: int = 96
    vocab: int = 256
    biases: bool = False  # qwen2-style q/k/v biases

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


def make(toy: Toy, seed: int, trained: bool = True) -> dict[str, np.ndarray]:
    """Weights of one independent model; ``trained=False`` gives a fresh init (all-ones norms)."""
    rng = np.random.default_rng(seed)
    h, hd = toy.hidden, toy.head_dim
    w: dict[str, np.ndarray] = {role_key(R.EMBED, None): rng.normal(0, 1, (toy.vocab, h))}
    profile = rng.normal(0, 1, h)
    profile[rng.choice(h, 3, replace=False)] += 6.0  # outlier channels, at model-specific places
    for layer in range(toy.layers):
        def norm() -> np.ndarray:
            if not trained:
                return np.ones(h)
            return 1.0 + 0.1 * layer + 0.2 * profile + 0.1 * rng.normal(0, 1, h)  # noqa: B023
        scale = (1.0 + 0.05 * layer) / np.sqrt(h)
        gate = rng.normal(0, scale, (toy.inter, h))
        up = 0.6 * gate + rng.normal(0, scale, (toy.inter, h)) if trained else rng.normal(0, scale, gate.shape)
        w.update({
            role_key(R.ATTN_NORM, layer): norm(), role_key(R.MLP_NORM, layer): norm(),
            role_key(R.Q, layer): rng.normal(0, scale, (toy.heads * hd, h)),
            role_key(R.K, layer): rng.normal(0, scale, (toy.kv_heads * hd, h)),
            role_key(R.V, layer): rng.normal(0, scale, (toy.kv_heads * hd, h)),
            role_key(R.O, layer): rng.normal(0, scale, (h, toy.heads * hd)),
            role_key(R.MLP_GATE, layer): gate, role_key(R.MLP_UP, layer): up,
            role_key(R.MLP_DOWN, layer): rng.normal(0, scale, (h, toy.inter)),
        })
        if toy.biases:
            for role, n in ((R.Q_BIAS, toy.heads), (R.K_BIAS, toy.kv_heads), (R.V_BIAS, toy.kv_heads)):
                w[role_key(role, layer)] = rng.normal(0, 0.5, n * hd) if trained else np.zeros(n * hd)
    w[role_key(R.FINAL_NORM, None)] = 1.0 + 0.3 * profile if trained else np.ones(h)
    if trained:
        _structure_down(w, toy, np.random.default_rng(seed + 7919), np.argsort(profile)[-3:])
    return w


def _structure_down(w: dict[str, np.ndarray], toy: Toy, rng: np.random.Generator, outliers: np.ndarray) -> None:
    """Make down's columns couple across hidden channels within the model: a rank-4 component shared by
    every neuron of a layer, and a few "massive" neurons writing into the outlier channels (its own
    random generator, so the other weights stay as they were)."""
    for layer in range(toy.layers):
        key = role_key(R.MLP_DOWN, layer)
        d = w[key]
        sd = float(np.std(d))
        basis = rng.normal(0, 1, (toy.hidden, 4))
        d = d + 1.5 * sd * basis @ rng.normal(0, 1, (4, toy.inter))
        massive = rng.choice(toy.inter, 3, replace=False)
        d[np.ix_(outliers, massive)] += 20 * sd
        w[key] = d


def finetune(w: dict[str, np.ndarray], seed: int, eps: float = 0.3) -> dict[str, np.ndarray]:
    """Add noise of relative size ``eps`` to every non-constant tensor (a crude fine-tune)."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, v in w.items():
        sd = float(np.std(v))
        out[k] = v + rng.normal(0, eps * sd, v.shape) if sd > 0 else v.copy()
    return out


def obfuscate(w: dict[str, np.ndarray], toy: Toy, seed: int) -> dict[str, np.ndarray]:
    """Function-preserving relabelling: residual channel ``i`` of the result is ``sign[i] * x[perm[i]]``;
    norms become positive and rescaled (the scale and sign move into the reading matrices); MLP neurons
    are permuted per layer."""
    rng = np.random.default_rng(seed)
    perm, sign = rng.permutation(toy.hidden), rng.choice([-1.0, 1.0], toy.hidden)
    out = dict(w)
    out[role_key(R.EMBED, None)] = w[role_key(R.EMBED, None)][:, perm] * sign[None, :]
    out[role_key(R.FINAL_NORM, None)] = np.abs(w[role_key(R.FINAL_NORM, None)][perm])
    for layer in range(toy.layers):
        for r in (R.O, R.MLP_DOWN):
            out[role_key(r, layer)] = w[role_key(r, layer)][perm] * sign[:, None]
        for norm_role, readers in ((R.ATTN_NORM, (R.Q, R.K, R.V)), (R.MLP_NORM, (R.MLP_GATE, R.MLP_UP))):
            old = w[role_key(norm_role, layer)][perm]
            s = rng.uniform(0.5, 2.0, toy.hidden)
            out[role_key(norm_role, layer)] = np.abs(old) * s
            factor = np.sign(old) * sign / s
            for r in readers:
                out[role_key(r, layer)] = w[role_key(r, layer)][:, perm] * factor[None, :]
        _permute_neurons(out, toy, layer, rng)
    return out


def _permute_neurons(out: dict[str, np.ndarray], toy: Toy, layer: int, rng: np.random.Generator) -> None:
    p = rng.permutation(toy.inter)
    for r in (R.MLP_GATE, R.MLP_UP):
        out[role_key(r, layer)] = out[role_key(r, layer)][p]
    dk = role_key(R.MLP_DOWN, layer)
    out[dk] = out[dk][:, p]


def prune_width(w: dict[str, np.ndarray], toy: Toy, keep: float, seed: int) -> tuple[dict[str, np.ndarray], Toy]:
    """Keep a random fraction of MLP neurons in every layer."""
    rng = np.random.default_rng(seed)
    n = int(toy.inter * keep)
    out = dict(w)
    for layer in range(toy.layers):
        idx = np.sort(rng.choice(toy.inter, n, replace=False))
        for r in (R.MLP_GATE, R.MLP_UP):
            out[role_key(r, layer)] = w[role_key(r, layer)][idx]
        out[role_key(R.MLP_DOWN, layer)] = w[role_key(R.MLP_DOWN, layer)][:, idx]
    return out, replace(toy, inter=n)


def drop_layers(w: dict[str, np.ndarray], toy: Toy, drop: list[int]) -> tuple[dict[str, np.ndarray], Toy]:
    """Remove whole layers and renumber the rest (depth pruning)."""
    keep = [i for i in range(toy.layers) if i not in drop]
    out = {}
    for k, v in w.items():
        role, layer, expert = parse_role_key(k)
        if layer is None:
            out[k] = v
        elif layer in keep:
            out[role_key(role, keep.index(layer), expert)] = v
    return out, replace(toy, layers=len(keep))


def upcycle(w: dict[str, np.ndarray], toy: Toy, experts: int, seed: int, noise: float = 0.1) -> dict[str, np.ndarray]:
    """Dense MLP -> MoE: each expert a noisy copy of the dense FFN, plus a router."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, v in w.items():
        role, layer, _ = parse_role_key(k)
        if role in (R.MLP_GATE, R.MLP_UP, R.MLP_DOWN):
            new_role = {R.MLP_GATE: R.EXPERT_GATE, R.MLP_UP: R.EXPERT_UP, R.MLP_DOWN: R.EXPERT_DOWN}[role]
            for e in range(experts):
                out[role_key(new_role, layer, e)] = v + rng.normal(0, noise * float(np.std(v)), v.shape)
            out[role_key(R.ROUTER, layer)] = rng.normal(0, 0.02, (experts, toy.hidden))
        else:
            out[k] = v
    return out


def to_model(w: dict[str, np.ndarray], toy: Toy, *, experts: int | None = None, name: str = "<toy>",
             dtype: type = np.float32) -> Model:
    """Wrap weights as a :class:`Model` (tensor names are the role keys)."""
    arrays = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in w.items()}
    refs = [TensorRef(k, *parse_role_key(k)) for k in arrays]
    spec = ModelSpec(family="llama" if experts is None else "mixtral", format="memory", layers=toy.layers,
                     hidden_size=toy.hidden, heads=toy.heads, kv_heads=toy.kv_heads, head_dim=toy.head_dim,
                     intermediate_size=toy.inter, vocab_size=toy.vocab, experts=experts,
                     moe_intermediate_size=toy.inter if experts else None)
    return Model(checkpoint=MemoryCheckpoint(arrays, source=name), spec=spec, refs=refs)


def features(w: dict[str, np.ndarray], toy: Toy, **kw: object) -> ModelFeatures:
    return ModelFeatures(to_model(w, toy, **kw))  # type: ignore[arg-type]
