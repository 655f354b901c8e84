"""`matching` on down-row channel signatures: reading only some rows, the cheap one-to-one channel map,
the decoupled signatures and the null they rest on (numbers in docs/LOG.md)."""

from __future__ import annotations

import numpy as np
import pytest
from evidence_toys import Toy, features, finetune, make, obfuscate, to_model
from scipy import stats as sps

from heredity.compare import compare
from heredity.evidence.align import one_to_one
from heredity.evidence.features import ModelFeatures, runs
from heredity.evidence.matching import MatchingTest, channel_sample
from heredity.evidence.units import channel_signatures, match_prepared, usable
from heredity.layouts.roles import Role
from heredity.stats import hungarian

TOY = Toy(layers=3, hidden=96, heads=4, kv_heads=2, inter=256, vocab=384)


def test_runs_of_consecutive_rows() -> None:
    assert runs(np.array([0, 1, 2, 5, 7, 8])) == [(0, 3), (5, 6), (7, 9)]
    assert runs(np.array([4])) == [(4, 5)]
    assert runs(np.array([], dtype=np.int64)) == []


def test_rows_at_reads_only_those_rows() -> None:
    w = make(TOY, 1)
    f = features(w, TOY)
    assert isinstance(f, ModelFeatures)
    idx = np.array([40, 3, 4, 5, 90, 3])  # any order, with a repeat
    before = f.model.bytes_read
    got = f.rows_at(Role.MLP_DOWN, 1, idx)
    assert f.model.bytes_read - before == 5 * TOY.inter * 4  # the five distinct rows (float32), no more
    assert got is not None
    np.testing.assert_allclose(got, f.model.get(Role.MLP_DOWN, 1)[idx], rtol=1e-6)
    with pytest.raises(ValueError):
        f.rows_at(Role.MLP_DOWN, 1, np.array([TOY.hidden]))


def test_channel_sample_is_even_blocks() -> None:
    chans = channel_sample(4096, 256)
    assert len(chans) == 256 and len(np.unique(chans)) == 256 and chans.max() < 4096
    assert len(runs(chans)) == 8  # eight contiguous blocks: eight reads per matrix
    np.testing.assert_array_equal(channel_sample(64, 256), np.arange(64))
    assert len(channel_sample(63, 256)) == 62  # an even count: two halves of one size


def test_one_to_one_is_a_matching_close_to_optimal() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((512, 300)), rng.standard_normal((512, 400))
    score = np.abs((a / np.linalg.norm(a, axis=0)).T @ (b / np.linalg.norm(b, axis=0)))
    got = one_to_one(score)
    assert len(np.unique(got)) == 300 and got.max() < 400
    best = hungarian(-score)
    assert score[np.arange(300), got].sum() > 0.98 * score[np.arange(300), best].sum()
    # channels that really correspond are recovered with no exact solve at all
    perm = rng.permutation(400)
    related = np.abs((b / np.linalg.norm(b, axis=0)).T @ (b[:, perm] / np.linalg.norm(b, axis=0)[perm]))
    np.testing.assert_array_equal(one_to_one(related), np.argsort(perm))


def _trap_down(rng: np.random.Generator, channels: int = 64, neurons: int = 2048) -> np.ndarray:
    """Rows of down of a model with a rank-4 component shared by its neurons and 48 "massive" neurons writing
    into six outlier channels at fixed places (the same places in every model: a privileged basis)."""
    d = rng.normal(0, 1, (channels, neurons))
    d += 1.5 * rng.normal(0, 1, (channels, 4)) @ rng.normal(0, 1, (4, neurons))
    massive = rng.choice(neurons, 48, replace=False)
    d[np.ix_([3, 10, 17, 40, 51, 62], massive)] += 30 * rng.uniform(0.5, 1.5, (6, 48))
    return d


def _plain(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = d.T - d.T.mean(axis=0, keepdims=True)
    s1, s2 = x[:, 0::2], x[:, 1::2]
    return s1 / np.linalg.norm(s1, axis=1, keepdims=True), s2 / np.linalg.norm(s2, axis=1, keepdims=True)


@pytest.mark.slow
def test_signatures_survive_the_shared_structure_trap() -> None:
    """Independent pairs sharing low-rank structure and massive neurons in the same channels: the plain
    signatures (centred only) give far too many small p-values; the decoupled ones stay calibrated."""
    plain, decoupled = [], []
    for i in range(60):
        rng = np.random.default_rng(i)
        a, b = _trap_down(rng), _trap_down(rng)
        plain.append(match_prepared(*_plain(a), *_plain(b), np.random.default_rng(i), 512)["p_value"])
        decoupled.append(match_prepared(*usable(*channel_signatures(a)), *usable(*channel_signatures(b)),
                                        np.random.default_rng(i), 512)["p_value"])
    assert sps.kstest(plain, "uniform", alternative="greater").pvalue < 1e-3  # the trap is real
    assert sps.kstest(decoupled, "uniform", alternative="greater").pvalue > 0.01
    assert min(decoupled) > 1e-5 and np.mean(np.array(decoupled) < 0.05) < 0.1


def test_signatures_keep_a_fine_tune_matched() -> None:
    rng = np.random.default_rng(3)
    a = _trap_down(rng)
    b = a + 0.5 * rng.standard_normal(a.shape)  # half the spread of an ordinary weight
    perm = rng.permutation(a.shape[1])
    out = match_prepared(*usable(*channel_signatures(a)), *usable(*channel_signatures(b[:, perm])),
                         np.random.default_rng(0), 512)
    assert out["agree"] > 0.5 and out["p_value"] < 1e-20


def test_matching_reads_a_few_rows_of_down_and_finds_an_obfuscated_fine_tune() -> None:
    base = make(TOY, 11)
    derived = obfuscate(finetune(base, 12, eps=0.3), TOY, seed=13)
    test = MatchingTest(channels=32)
    fa, fb = features(base, TOY), features(derived, TOY)
    ev = test.evaluate(fa, fb)
    assert ev.p_value is not None and ev.p_value < 1e-20
    assert "down" in ev.detail["signatures"] and "one-to-one" in ev.detail["hidden_alignment"]
    gate_up = MatchingTest(channels=0).evaluate(features(base, TOY), features(derived, TOY))
    assert ev.reads.read["b"] == ev.reads.declared["b"] < gate_up.reads.read["b"] / 2
    independent = MatchingTest(channels=32).evaluate(features(make(TOY, 14), TOY), fb)
    assert independent.p_value is not None and independent.p_value > 1e-3


def test_channels_zero_is_gate_and_up() -> None:
    base = make(TOY, 21)
    c = compare(to_model(base, TOY), to_model(finetune(base, 22), TOY), tests=[MatchingTest(channels=0)])
    assert c.evidence[0].detail["signatures"] == "gate rows and up rows" and c.verdict.label == "related"
    with pytest.raises(ValueError):
        MatchingTest(channels=1)
