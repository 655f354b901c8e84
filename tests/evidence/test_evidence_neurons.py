"""`neurons`, the permutation-robust test for plain (non-gated) MLPs: toys with trained-like coupling of
each neuron's read and write directions, derived pairs (fine-tune, obfuscation, width pruning), and a
GPT-2 and a BERT pair built with the families' real tensor names through `compare`."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from evidence_toys import Toy, features, finetune, make

from heredity import plotdata
from heredity.checkpoint.base import MemoryCheckpoint
from heredity.compare import compare
from heredity.evidence.features import role_key
from heredity.evidence.neurons import NeuronsTest, decouple
from heredity.fingerprint import extract
from heredity.layouts import load_model
from heredity.layouts.roles import Role
from heredity.results import Exclusion
from heredity.synth import make_checkpoint

R = Role
TOY = Toy(layers=4, hidden=48, heads=4, kv_heads=4, inter=192, vocab=256)
NARROW = replace(TOY, inter=80)  # ffn < 2 (hidden + 2): the per-neuron decoupling path


def plain(toy: Toy, seed: int, post_ln: bool = False) -> dict[str, np.ndarray]:
    """A trained-looking model with a plain MLP.  Built to couple the two matchings if the test did not
    decouple them: every neuron's down column is partly its own up row (``0.6 u_j``, the same scalar in
    every model) plus a model-specific linear map of it, all rows share a mean direction, the up bias
    follows the row norm, and the input norm has a bias."""
    w = make(toy, seed)
    rng = np.random.default_rng(10_000 + seed)
    h = toy.hidden
    for layer in range(toy.layers):
        w.pop(role_key(R.MLP_GATE, layer))
        up = w[role_key(R.MLP_UP, layer)] + 0.3 * rng.normal(0, 1, h)[None, :] / np.sqrt(h)
        mix = np.eye(h) + 0.3 * rng.normal(0, 1, (h, h)) / np.sqrt(h)
        down = 0.6 * up + 0.4 * up @ mix + rng.normal(0, 1.0 / np.sqrt(h), up.shape) + 0.2 * up.mean(axis=0)
        w[role_key(R.MLP_UP, layer)] = up
        w[role_key(R.MLP_DOWN, layer)] = down.T
        w[role_key(R.MLP_UP_BIAS, layer)] = -0.5 * np.linalg.norm(up, axis=1) + 0.1 * rng.normal(0, 1, toy.inter)
        w[role_key(R.MLP_NORM_BIAS, layer)] = 0.1 * rng.normal(0, 1, h)
        if post_ln:  # BERT: the attention-output LayerNorm feeds the MLP, the output LayerNorm follows it
            w[role_key(R.POST_ATTN_NORM, layer)] = w.pop(role_key(R.MLP_NORM, layer))
            w[role_key(R.POST_ATTN_NORM_BIAS, layer)] = w.pop(role_key(R.MLP_NORM_BIAS, layer))
            w[role_key(R.POST_MLP_NORM, layer)] = w.pop(role_key(R.ATTN_NORM, layer))
    return w


def obfuscate(w: dict[str, np.ndarray], toy: Toy, seed: int, post_ln: bool = False) -> dict[str, np.ndarray]:
    """Function-preserving relabelling for LayerNorm models: residual channels permuted everywhere, the
    MLP's input norm rescaled (scale and bias) with the inverse moved into the up columns, and every
    layer's neurons permuted (up rows, up bias, down columns together)."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(toy.hidden)
    norm, bias = (R.POST_ATTN_NORM, R.POST_ATTN_NORM_BIAS) if post_ln else (R.MLP_NORM, R.MLP_NORM_BIAS)
    out = {}
    for k, v in w.items():
        out[k] = v[:, perm] if k == role_key(R.EMBED, None) else (v[perm] if v.ndim == 1 and v.size == toy.hidden else v)
    for layer in range(toy.layers):
        for r in (R.Q, R.K, R.V):
            out[role_key(r, layer)] = w[role_key(r, layer)][:, perm]
        out[role_key(R.O, layer)] = w[role_key(R.O, layer)][perm]
        s = rng.uniform(0.5, 2.0, toy.hidden)
        out[role_key(norm, layer)] = w[role_key(norm, layer)][perm] * s
        out[role_key(bias, layer)] = w[role_key(bias, layer)][perm] * s
        p = rng.permutation(toy.inter)
        out[role_key(R.MLP_UP, layer)] = (w[role_key(R.MLP_UP, layer)][:, perm] / s[None, :])[p]
        out[role_key(R.MLP_UP_BIAS, layer)] = w[role_key(R.MLP_UP_BIAS, layer)][p]
        out[role_key(R.MLP_DOWN, layer)] = w[role_key(R.MLP_DOWN, layer)][perm][:, p]
    return out


def prune(w: dict[str, np.ndarray], toy: Toy, keep: float, seed: int) -> tuple[dict[str, np.ndarray], Toy]:
    """Keep a random share of every layer's neurons."""
    rng = np.random.default_rng(seed)
    n = int(toy.inter * keep)
    out = dict(w)
    for layer in range(toy.layers):
        idx = np.sort(rng.choice(toy.inter, n, replace=False))
        out[role_key(R.MLP_UP, layer)] = w[role_key(R.MLP_UP, layer)][idx]
        out[role_key(R.MLP_UP_BIAS, layer)] = w[role_key(R.MLP_UP_BIAS, layer)][idx]
        out[role_key(R.MLP_DOWN, layer)] = w[role_key(R.MLP_DOWN, layer)][:, idx]
    return out, replace(toy, inter=n)


def p_of(a: dict[str, np.ndarray], b: dict[str, np.ndarray], toy: Toy, toy_b: Toy | None = None,
         test: NeuronsTest | None = None) -> float:
    e = (test or NeuronsTest()).evaluate(features(a, toy), features(b, toy_b or toy))
    assert e.applicable, e.reason
    return float(e.p_value)  # type: ignore[arg-type]


@pytest.mark.parametrize("toy", [TOY, NARROW], ids=["wide", "narrow"])
@pytest.mark.parametrize("post_ln", [False, True], ids=["pre-ln", "post-ln"])
def test_independent_toys_are_not_rejected(toy: Toy, post_ln: bool) -> None:
    ps = [p_of(plain(toy, 100 + 2 * s, post_ln), plain(toy, 101 + 2 * s, post_ln), toy) for s in range(4)]
    assert all(p > 1e-3 for p in ps), ps


@pytest.mark.parametrize("toy", [TOY, NARROW], ids=["wide", "narrow"])
@pytest.mark.parametrize("post_ln", [False, True], ids=["pre-ln", "post-ln"])
def test_derived_toys_are_detected(toy: Toy, post_ln: bool) -> None:
    a = plain(toy, 1, post_ln)
    pruned, smaller = prune(a, toy, 0.6, 6)
    assert p_of(a, finetune(a, 3, eps=1.0), toy) < 1e-6
    assert p_of(a, obfuscate(finetune(a, 4, eps=0.5), toy, 5, post_ln), toy) < 1e-6
    assert p_of(a, pruned, toy, smaller) < 1e-6
    assert p_of(pruned, a, smaller, toy) < 1e-6  # either side may be the narrower


def test_without_decoupling_the_toy_null_breaks() -> None:
    """The toy's read/write coupling is strong enough to matter: matching the raw rows gives tiny
    p-values on independent pairs, so the decoupling is what the null rests on."""
    from heredity.evidence import neurons

    def raw(r: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return neurons._unit_rows(r), neurons._unit_rows(w)

    a, b = plain(TOY, 100), plain(TOY, 101)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(neurons, "decouple", raw)
        assert p_of(a, b, TOY) < 1e-6
    assert p_of(a, b, TOY) > 1e-3


def test_decouple_removes_linear_coupling() -> None:
    rng = np.random.default_rng(0)
    read = rng.normal(0, 1, (200, 17))
    write = read[:, :16] @ rng.normal(0, 1, (16, 16)) + 0.1 * rng.normal(0, 1, (200, 16)) + 3.0
    r, w = decouple(read, write)
    assert np.allclose(np.linalg.norm(r, axis=1), 1, atol=1e-5) and np.allclose(np.linalg.norm(w, axis=1), 1, atol=1e-5)
    centred, wc = read - read.mean(axis=0), write - write.mean(axis=0)
    resid = wc - centred @ np.linalg.lstsq(centred, wc, rcond=None)[0]  # nothing linear in the read side left
    assert np.allclose(w, resid / np.linalg.norm(resid, axis=1, keepdims=True), atol=1e-4)


def test_gated_models_are_left_to_matching() -> None:
    w = make(TOY, 1)
    e = NeuronsTest().evaluate(features(w, TOY), features(finetune(w, 2), TOY))
    assert not e.applicable and e.excluded == Exclusion.STRUCTURE
    assert e.reads.read == {"a": 0, "b": 0}
    plain_side = plain(TOY, 2)
    e = NeuronsTest().evaluate(features(plain_side, TOY), features(w, TOY))
    assert not e.applicable and e.excluded == Exclusion.STRUCTURE


def test_power_needs_two_layers_and_plot_per_layer() -> None:
    a = plain(TOY, 1)
    e = NeuronsTest(max_layers=1).evaluate(features(a, TOY), features(plain(TOY, 2), TOY))
    assert e.applicable and not e.power.main_weights  # type: ignore[union-attr]
    e = NeuronsTest().evaluate(features(a, TOY), features(finetune(a, 2), TOY))
    assert e.power.main_weights and e.detail["layers_compared"] == TOY.layers  # type: ignore[union-attr]
    (plot,) = e.plots
    assert [x for x, _ in plot.series["agreement"]] == [0.0, 1.0, 2.0, 3.0]  # type: ignore[attr-defined]
    assert all(v > 0.9 for _, v in plot.series["agreement"])  # type: ignore[attr-defined]


@pytest.mark.parametrize("test", [NeuronsTest(), NeuronsTest(seed=5, max_rows=24, max_layers=3)], ids=repr)
def test_contract_where_it_applies(test: NeuronsTest) -> None:
    """The contract suite's toys are gated (where this test does not apply); the same checks here."""
    a, b = plain(TOY, 1), plain(TOY, 2)
    fa, fb = features(a, TOY), features(b, TOY)
    declared = test.reads(fa, fb)
    assert fa.model.bytes_read == 0 and fb.model.bytes_read == 0
    e = test.evaluate(fa, fb)
    assert e.applicable and e.reads.declared["a"] >= e.reads.read["a"] > 0 and declared.a
    assert (e.statistic, e.p_value) == (lambda x: (x.statistic, x.p_value))(test.with_params().evaluate(
        features(a, TOY), features(b, TOY)))
    d = json.loads(json.dumps(test.evaluate(features(a, TOY), features(finetune(a, 3), TOY)).to_dict(),
                              allow_nan=False))
    assert d["power"]["statement"] and [plotdata.from_dict(p).to_dict() for p in d["plots"]] == d["plots"]
    fp = extract(features(a, TOY).model)
    assert test.evaluate(fp, fb).excluded == Exclusion.FINGERPRINT


# -- real tensor names: the layouts' canonicalisation (GPT-2 Conv1D transposes, fused c_attn) ------------

def _named(family: str, seed: int, layers: int = 3) -> MemoryCheckpoint:
    return make_checkpoint(family, layers=layers, hidden=64, heads=4, intermediate=256, vocab=256, seed=seed)


def _tuned(ck: MemoryCheckpoint, seed: int, eps: float = 0.3) -> MemoryCheckpoint:
    rng = np.random.default_rng(seed)
    arrays = {k: (v + rng.normal(0, eps * float(v.std()), v.shape)).astype(v.dtype) for k, v in ck.arrays.items()}
    return MemoryCheckpoint(arrays=arrays, config=dict(ck.config), source=f"{ck.source} tuned")


@pytest.mark.parametrize("family", ["gpt2", "bert"])
def test_real_names_related_and_independent_verdicts(family: str) -> None:
    a = load_model(_named(family, 1))
    related = compare(a, load_model(_tuned(_named(family, 1), 9)), thorough=True)  # every test, neurons included
    assert related.verdict.label == "related"
    assert any(e.test == "neurons" and e.votes and float(e.p_value) < 1e-6 for e in related.evidence)  # type: ignore[arg-type]
    for seed in (2, 3):
        c = compare(a, load_model(_named(family, seed)))
        assert c.verdict.label == "independent", (seed, c.verdict.reason)
        (ev,) = [e for e in c.evidence if e.test == "neurons"]
        assert ev.powerful and float(ev.p_value) > 1e-3  # type: ignore[arg-type]


@pytest.mark.slow
def test_null_calibration_on_toy_pairs() -> None:
    """20 independent trained-like pairs (both norm placements): no excess of small p-values (one-sided
    KS), none below 1e-4.  The trained GPT-2/BERT panel and real pairs are in docs/LOG.md."""
    from scipy import stats

    ps = [p_of(plain(TOY, 300 + 2 * s, s % 2 == 1), plain(TOY, 301 + 2 * s, s % 2 == 1), TOY) for s in range(20)]
    assert min(ps) > 1e-4, ps
    assert stats.kstest(ps, "uniform", alternative="greater").pvalue > 0.01, ps
