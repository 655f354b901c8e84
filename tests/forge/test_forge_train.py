"""Training is seeded, learns, and continue-training starts from the given weights."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from heredity.errors import NotFoundError  # noqa: E402
from heredity.forge.config import preset  # noqa: E402
from heredity.forge.data import batches, corpus_names, decode, encode, load_corpus  # noqa: E402
from heredity.forge.io import to_arrays  # noqa: E402
from heredity.forge.train import evaluate, train  # noqa: E402


def test_bundled_corpora_are_there_and_byte_tokenised() -> None:
    assert {"fables", "almanac", "arithmetic"} <= set(corpus_names())
    text = load_corpus("fables")
    assert len(text) > 10_000
    assert decode(encode(text[:500])) == text[:500]
    assert encode("é").tolist() == [0xC3, 0xA9]


def test_unknown_corpus_is_a_clear_error() -> None:
    with pytest.raises(NotFoundError, match="no such corpus"):
        load_corpus("no-such-corpus")


def test_batches_are_seeded_shifted_windows() -> None:
    tokens = encode(load_corpus("almanac"))
    x1, y1 = next(batches(tokens, 4, 32, seed=7))
    x2, _ = next(batches(tokens, 4, 32, seed=7))
    x3, _ = next(batches(tokens, 4, 32, seed=8))
    assert np.array_equal(x1, x2) and not np.array_equal(x1, x3)
    assert np.array_equal(x1[:, 1:], y1[:, :-1])


@pytest.mark.parametrize("family", ["llama", "qwen2_moe", "pangu_pro_moe"])
def test_loss_drops(family: str) -> None:
    text = load_corpus("fables")
    model, losses = train(preset(family), text, steps=80, seed=1)
    assert losses[0] > 5.0  # ~ln(256) at init
    assert np.mean(losses[-10:]) < losses[0] - 2.0
    assert evaluate(model, load_corpus("almanac")) < losses[0] - 1.0  # it learnt English, not just the fables


def test_training_is_deterministic_in_the_seed() -> None:
    text = load_corpus("fables")
    a, la = train(preset("qwen3"), text, steps=15, seed=3)
    b, lb = train(preset("qwen3"), text, steps=15, seed=3)
    c, _ = train(preset("qwen3"), text, steps=15, seed=4)
    assert la == lb
    wa, wb, wc = to_arrays(a), to_arrays(b), to_arrays(c)
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    assert not np.array_equal(wa["model.layers.0.self_attn.q_proj.weight"], wc["model.layers.0.self_attn.q_proj.weight"])


def test_continue_training_starts_from_the_parent() -> None:
    text = load_corpus("fables")
    parent, losses = train(preset("llama"), text, steps=60, seed=1)
    child, child_losses = train(preset("llama"), text, steps=5, seed=2, init_from=parent, lr=1e-4)
    assert child_losses[0] < losses[0] - 2.0  # no fresh init
    w0 = to_arrays(parent)["model.layers.1.mlp.up_proj.weight"]
    w1 = to_arrays(child)["model.layers.1.mlp.up_proj.weight"]
    assert not np.array_equal(w0, w1) and np.corrcoef(w0.ravel(), w1.ravel())[0, 1] > 0.99


def test_hostile_configs_are_input_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from heredity.errors import InputError
    from heredity.forge.config import ForgeConfig
    from heredity.forge.io import load_folder

    good = preset("llama").to_hf()
    with pytest.raises(InputError, match="too large"):
        ForgeConfig.from_hf({**good, "hidden_size": 1_000_000})
    with pytest.raises(InputError, match="not a usable forge config"):
        ForgeConfig.from_hf({**good, "num_key_value_heads": 3})
    with pytest.raises(InputError, match="cannot build model_type"):
        ForgeConfig.from_hf({**good, "model_type": "\x1b[31mevil"})
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="not a JSON object"):
        load_folder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(good))
    with pytest.raises(InputError, match="no .safetensors"):
        load_folder(tmp_path)
