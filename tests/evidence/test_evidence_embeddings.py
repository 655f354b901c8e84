"""`embeddings`: token-embedding channels over shared tokens, and the token strings it pairs them by.

Ground truth is built here: embeddings of independent models that share what same-data training gives
them (a common token geometry, frequency-driven row norms, a linear relation, even a shared privileged
channel), and derived ones (fine-tuned, channels permuted and sign-flipped, vocabulary shuffled,
pruned and extended, a side that is a fingerprint).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from heredity.checkpoint.open import open_checkpoint
from heredity.checkpoint.tokens import gguf_tokens, tokenizer_json_tokens, tokens
from heredity.checkpoint.writers import save_hf_folder
from heredity.errors import CorruptCheckpointError
from heredity.evidence.embeddings import EmbeddingsTest, median_p, needed, pair_tokens, pick_tokens, runs
from heredity.evidence.features import ModelFeatures
from heredity.fingerprint import extract
from heredity.layouts import load_model
from heredity.results import Exclusion

VOCAB, HIDDEN = 1200, 48
NAMES = [f"tok{i}" for i in range(VOCAB)]


def folder(path: Path, emb: np.ndarray, names: list[str] | None = None) -> Path:
    """A llama folder holding only a token embedding (and a final norm), with a tokenizer.json when
    ``names`` are given."""
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": emb.shape[1],
           "num_attention_heads": 4, "num_key_value_heads": 4, "num_hidden_layers": 0,
           "intermediate_size": 4 * emb.shape[1], "vocab_size": emb.shape[0]}
    save_hf_folder({"model.embed_tokens.weight": emb.astype(np.float32),
                    "model.norm.weight": np.ones(emb.shape[1], np.float32)}, cfg, path)
    if names is not None:
        doc = {"model": {"type": "BPE", "vocab": {s: i for i, s in enumerate(names)}}, "added_tokens": []}
        (path / "tokenizer.json").write_text(json.dumps(doc))
    return path


def side(path: Path) -> ModelFeatures:
    return ModelFeatures(load_model(str(path)))


def same_data_pair(seed: int, hidden_b: int = HIDDEN, shared_channel: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Two independent embeddings that share everything same-data training shares: one token geometry
    ``Z`` (so B is close to a linear function of A), row norms set by token frequency, and, optionally,
    one privileged frequency channel each (at their own indices)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((VOCAB, 24))
    freq = np.exp(-np.arange(VOCAB) / 300.0)
    norm = 1.0 + 3.0 * freq[:, None]

    def one(h: int) -> np.ndarray:
        e = (z @ rng.standard_normal((24, h)) + 0.5 * rng.standard_normal((VOCAB, h))) * norm
        e[:, rng.integers(h)] *= 8.0  # an outlier channel of its own
        if shared_channel:
            e[:, rng.integers(h)] = 10.0 * freq
        return e

    return one(HIDDEN), one(hidden_b)


def derive(e: np.ndarray, seed: int, noise: float = 0.2) -> np.ndarray:
    """A fine-tuned copy with its hidden channels permuted and sign-flipped."""
    rng = np.random.default_rng(seed)
    h = e.shape[1]
    return e[:, rng.permutation(h)] * rng.choice([-1.0, 1.0], h) + noise * e.std() * rng.standard_normal(e.shape)


# -- token strings ---------------------------------------------------------------------------------

def test_tokenizer_json_bpe_unigram_added(tmp_path: Path) -> None:
    p = tmp_path / "tokenizer.json"
    p.write_text(json.dumps({"model": {"vocab": {"a": 0, "b": 2}}, "added_tokens": [{"id": 3, "content": "<x>"}]}))
    assert tokenizer_json_tokens(p) == ["a", None, "b", "<x>"]
    p.write_text(json.dumps({"model": {"vocab": [["u", -1.0], ["v", -2.0]]}}))
    assert tokenizer_json_tokens(p) == ["u", "v"]
    for bad in ('[1, 2]', '{"model": {"vocab": {"a": -1, "b": "x", "c": 1.5}}}', '{"model": 3}'):
        p.write_text(bad)
        assert tokenizer_json_tokens(p) is None


def _gguf(path: Path, kv: bytes, n_kv: int) -> Path:
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, n_kv) + kv)
    return path


def _key(name: str) -> bytes:
    return struct.pack("<Q", len(name)) + name.encode()


def test_gguf_token_array_read_after_other_keys(tmp_path: Path) -> None:
    toks = ["<s>", "▁the", "é"]
    arr = struct.pack("<IQ", 8, len(toks)) + b"".join(struct.pack("<Q", len(t.encode())) + t.encode() for t in toks)
    kv = _key("general.name") + struct.pack("<I", 8) + struct.pack("<Q", 2) + b"xy"
    kv += _key("tokenizer.ggml.tokens") + struct.pack("<I", 9) + arr
    assert gguf_tokens(_gguf(tmp_path / "m.gguf", kv, 2)) == toks
    assert gguf_tokens(_gguf(tmp_path / "none.gguf", kv[: len(_key("general.name")) + 14], 1)) is None


def test_gguf_hostile_token_arrays_refused(tmp_path: Path) -> None:
    huge = _key("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 1 << 20)  # a million tokens in 0 bytes
    with pytest.raises(CorruptCheckpointError):
        gguf_tokens(_gguf(tmp_path / "huge.gguf", huge, 1))
    long_token = _key("tokenizer.ggml.tokens") + struct.pack("<IIQQ", 9, 8, 1, 1 << 40)
    with pytest.raises(CorruptCheckpointError):
        gguf_tokens(_gguf(tmp_path / "long.gguf", long_token, 1))


def test_checkpoints_without_tokenizer_pair_by_id(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    with_names = folder(tmp_path / "named", rng.standard_normal((40, 8)), NAMES[:40])
    plain = folder(tmp_path / "plain", rng.standard_normal((40, 8)))
    assert tokens(open_checkpoint(str(with_names))) == NAMES[:40]
    assert tokens(open_checkpoint(str(plain))) is None
    ia, ib, how = pair_tokens(None, NAMES, 30, 40)
    assert how == "token ids" and ia.tolist() == ib.tolist() == list(range(30))


def test_pairing_by_string_and_bounded_picks() -> None:
    ia, ib, how = pair_tokens(["a", "b", "c", None, "d"], ["d", "x", "b", "a"], 5, 4)
    assert how == "token strings" and ia.tolist() == [0, 1, 4] and ib.tolist() == [3, 2, 0]
    picked = pick_tokens(10_000, 1000)
    assert picked.size == 1000 and len(runs(picked)) == 4
    assert runs(np.array([1, 2, 5, 30])) == [(1, 6), (30, 31)]


# -- the null --------------------------------------------------------------------------------------

def test_p_value_bound_is_monotone_and_power_threshold_consistent() -> None:
    ps = [median_p(t, 512, 4096) for t in (0.05, 0.1, 0.2, 0.5)]
    assert ps[0] == 1.0 and ps == sorted(ps, reverse=True) and ps[-1] < 1e-100
    t = needed(64, 64)
    assert median_p(t, 64, 64) < 1e-6 <= median_p(t - 0.02, 64, 64)


@pytest.mark.parametrize("shared_channel", [False, True])
def test_same_data_independent_pairs_do_not_fire(tmp_path: Path, shared_channel: bool) -> None:
    """Shared geometry, frequency norms, a linear relation, own outlier channels and a shared
    privileged channel: none of it is lineage (the split-half matching this replaced fires here)."""
    for seed in range(3):
        ea, eb = same_data_pair(seed, shared_channel=shared_channel)
        a = side(folder(tmp_path / f"a{seed}", ea, NAMES))
        b = side(folder(tmp_path / f"b{seed}", eb, NAMES))
        e = EmbeddingsTest().evaluate(a, b)
        assert e.applicable and e.detail["token_pairing"] == "token strings"
        assert e.p_value is not None and e.p_value > 0.01, e.summary
        assert e.power is not None and not e.power.main_weights


def test_an_outsized_channel_on_the_wide_side_does_not_fire(tmp_path: Path) -> None:
    ea, eb = same_data_pair(7, hidden_b=96)
    eb[:, 3] *= 50.0
    e = EmbeddingsTest().evaluate(side(folder(tmp_path / "a", ea)), side(folder(tmp_path / "b", eb)))
    assert e.applicable and e.p_value is not None and e.p_value > 0.01, e.summary


# -- power -----------------------------------------------------------------------------------------

def test_finetuned_permuted_copy_detected(tmp_path: Path) -> None:
    ea, _ = same_data_pair(1)
    e = EmbeddingsTest().evaluate(side(folder(tmp_path / "a", ea, NAMES)),
                                  side(folder(tmp_path / "b", derive(ea, 2), NAMES)))
    assert e.p_value is not None and e.p_value < 1e-10 and e.detail["one_to_one"] > 0.9


def test_vocabulary_shuffled_pruned_and_extended_detected_by_strings(tmp_path: Path) -> None:
    ea, _ = same_data_pair(3)
    rng = np.random.default_rng(4)
    keep = rng.permutation(np.sort(rng.choice(VOCAB, 900, replace=False)))
    rows = np.concatenate([derive(ea, 5)[keep], rng.standard_normal((200, HIDDEN))])
    names = [NAMES[i] for i in keep] + [f"new{i}" for i in range(200)]
    a, b = side(folder(tmp_path / "a", ea, NAMES)), side(folder(tmp_path / "b", rows, names))
    e = EmbeddingsTest().evaluate(a, b)
    assert e.detail["token_pairing"] == "token strings" and e.detail["shared_tokens"] == 900
    assert e.p_value is not None and e.p_value < 1e-10
    by_id = EmbeddingsTest().evaluate(side(folder(tmp_path / "a2", ea)), side(folder(tmp_path / "b2", rows)))
    assert by_id.p_value is not None and by_id.p_value > 1e-3  # shuffled ids pair unrelated rows: silent, not wrong


def test_width_pruned_copy_detected_and_fingerprint_side_runs_by_id(tmp_path: Path) -> None:
    ea, _ = same_data_pair(6)
    pruned = derive(ea, 7)[:, :32]
    a = side(folder(tmp_path / "a", ea, NAMES))
    e = EmbeddingsTest().evaluate(a, side(folder(tmp_path / "b", pruned, NAMES)))
    # weaker: in this rank-24 toy the pruned channels are predictable from the kept ones
    assert e.detail["channels"] == 32 and e.p_value is not None and e.p_value < 1e-4
    fp = extract(side(folder(tmp_path / "c", derive(ea, 8), NAMES)).model)
    e = EmbeddingsTest().evaluate(fp, a)
    assert e.detail["token_pairing"] == "token ids" and e.p_value is not None and e.p_value < 1e-6, e.summary


def test_reads_are_bounded(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    big = rng.standard_normal((20_000, 32))
    a, b = side(folder(tmp_path / "a", big)), side(folder(tmp_path / "b", derive(big, 1)))
    e = EmbeddingsTest(max_tokens=512).evaluate(a, b)
    assert e.detail["tokens_used"] == 512
    assert 0 < e.reads.read["a"] <= e.reads.declared["a"] == 512 * 32 * 4


def test_no_embedding_or_too_few_shared_tokens(tmp_path: Path) -> None:
    rng = np.random.default_rng(10)
    a = side(folder(tmp_path / "a", rng.standard_normal((100, 16)), [f"x{i}" for i in range(100)]))
    b = side(folder(tmp_path / "b", rng.standard_normal((100, 16)), [f"y{i}" for i in range(100)]))
    e = EmbeddingsTest().evaluate(a, b)
    assert not e.applicable and e.excluded == Exclusion.SHAPES and "share 0 tokens" in e.reason


# -- real models -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_smollm2_gguf_against_a_derived_copy_and_gemma(tmp_path: Path) -> None:
    """SmolLM2 GGUF (Q4_1) vs a copy with its channels permuted and flipped, noise, its vocabulary
    shuffled and pruned (by token string), and vs Gemma 3 (independent; ~thousands of shared strings)."""
    from heredity.layouts.roles import Role
    from heredity.testing.realmodels import find_or_fetch, skip_reason

    smol, gemma = find_or_fetch("smollm2"), find_or_fetch("gemma3-270m")
    if smol is None or gemma is None:
        pytest.skip(skip_reason("smollm2" if smol is None else "gemma3-270m"))
    a = ModelFeatures(load_model(str(smol)))
    names = gguf_tokens(smol)
    assert names is not None
    emb = a.matrix(Role.EMBED)
    rng = np.random.default_rng(0)
    keep = rng.permutation(np.sort(rng.choice(emb.shape[0], 40_000, replace=False)))
    copy = folder(tmp_path / "copy", derive(emb, 1)[keep], [str(names[i]) for i in keep])
    e = EmbeddingsTest().evaluate(a, side(copy))
    assert e.detail["token_pairing"] == "token strings" and e.p_value is not None and e.p_value < 1e-100
    e = EmbeddingsTest().evaluate(a, ModelFeatures(load_model(str(gemma))))
    assert e.detail["token_pairing"] == "token strings" and e.p_value is not None and e.p_value > 0.01


def test_hostile_tokenizer_json_pairs_by_id(tmp_path: Path) -> None:
    """A tokenizer.json nested past the parser's recursion limit is not a tokenizer: pair by id."""
    path = folder(tmp_path / "deep", np.random.default_rng(0).standard_normal((40, 8)))
    (path / "tokenizer.json").write_text("[" * 100_000 + "]" * 100_000)
    assert tokens(open_checkpoint(str(path))) is None


def test_map_rows_dual_form_solves_for_the_sampled_units_only() -> None:
    """More channels than tokens: rows ``units`` of x.T inv(x x.T + lam I) y, as a direct product gives."""
    from heredity.evidence.embeddings import RIDGE, map_rows

    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((60, 150)), rng.standard_normal((60, 170))
    units = np.array([0, 7, 31, 149])
    g = x @ x.T
    direct = x.T @ np.linalg.inv(g + RIDGE * np.trace(g) / 60 * np.eye(60)) @ y
    assert np.allclose(map_rows(x, y, units), direct[units], rtol=1e-10, atol=1e-12)


def test_the_sphere_coordinate_tail_agrees_with_scipy() -> None:
    sps = pytest.importorskip("scipy.stats")
    from heredity.evidence.embeddings import coordinate_tail

    for d in (2, 3, 64, 896, 4096, 5120):
        for t in (0.001, 0.01, 0.05, 0.1, 0.2, 0.35, 0.5, 0.8, 0.99):
            want = float(sps.beta.sf(t * t, 0.5, (d - 1) / 2.0))
            got = coordinate_tail(t, d)
            if want > 1e-290:
                assert got == pytest.approx(want, rel=1e-9, abs=0), (d, t)
            else:
                assert got < 1e-280, (d, t)
    assert coordinate_tail(1.0, 64) == 0.0 and coordinate_tail(0.0, 64) == 1.0 and coordinate_tail(0.3, 1) == 1.0
