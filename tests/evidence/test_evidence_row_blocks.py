"""Large matrices read in row blocks instead of whole: fingerprints get the same hashes, sketch rows,
vectors and constant flags, and the same standard deviations to float32 precision (the blocks are
pooled in float64); `identical` gets the same digests and evidence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from evidence_toys import Toy, make, to_model

from heredity import stats
from heredity.checkpoint.base import MemoryCheckpoint
from heredity.checkpoint.writers import save_safetensors
from heredity.evidence import features
from heredity.evidence.identical import IdenticalTest
from heredity.fingerprint import Fingerprint, extract
from heredity.layouts.model import Model, TensorRef
from heredity.layouts.roles import Role

TOY = Toy(biases=True, inter=160)


def _weights() -> dict[str, np.ndarray]:
    w = make(TOY, 3)
    w["mlp_up@1"] = np.where(np.arange(w["mlp_up@1"].size).reshape(w["mlp_up@1"].shape) % 50 == 0,
                             w["mlp_up@1"], 0.0)  # 98 % zeros: constant by the 90 % rule, via the count pass
    w["mlp_gate@2"] = np.where(np.arange(w["mlp_gate@2"].size).reshape(w["mlp_gate@2"].shape) % 5 == 0,
                               w["mlp_gate@2"], 0.0)  # 80 % zeros: zero is most chunks' median, not constant
    w["mlp_down@3"] = np.zeros_like(w["mlp_down@3"])  # one value
    w["q@0"][3, 5] = np.nan  # non-finite values: left out of std, kept in the hash
    w["q@0"][7, 1] = np.inf
    return w


def _both(model_of: Callable[[], Model], monkeypatch: pytest.MonkeyPatch) -> tuple[Fingerprint, Fingerprint]:
    whole = extract(model_of())
    monkeypatch.setattr(features, "STREAM_ABOVE", 0)
    monkeypatch.setattr(features, "BLOCK_ELEMENTS", 1000)  # a few rows per block
    monkeypatch.setattr(stats, "_SMALL", 64)  # many constant-scan chunks, some split across blocks
    return whole, extract(model_of())


def _same(whole: Fingerprint, blocks: Fingerprint) -> None:
    assert blocks.keys == whole.keys and blocks.hashes == whole.hashes
    assert blocks.rows.keys() == whole.rows.keys()
    assert all(np.array_equal(blocks.rows[k], whole.rows[k]) for k in whole.rows)
    assert all(np.array_equal(blocks.vectors[k], whole.vectors[k]) for k in whole.vectors)
    for role, per_layer in whole.std.items():
        assert blocks.std[role] == pytest.approx(per_layer, rel=1e-6)


def test_blocks_give_the_whole_matrix_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    weights = _weights()
    whole, blocks = _both(lambda: to_model(weights, TOY), monkeypatch)
    _same(whole, blocks)
    constant = {k: v[2] for k, v in whole.hashes.items()}
    assert constant["mlp_up@1"] and constant["mlp_down@3"] and not constant["mlp_gate@2"]
    assert not constant["q@0"] and not constant["embed"]


def test_blocks_on_stored_bf16_with_fused_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bf16 safetensors file whose gate and up are one fused tensor (row slices of it)."""
    weights = _weights()
    fused = np.concatenate([weights.pop("mlp_gate@0"), weights.pop("mlp_up@0")])
    path = save_safetensors({**weights, "gate_up@0": fused}, tmp_path / "m.safetensors", dtype="BF16")
    base = to_model(weights, TOY)
    inter = TOY.inter
    refs = [*base.refs, TensorRef("gate_up@0", Role.MLP_GATE, 0, rows=(0, inter)),
            TensorRef("gate_up@0", Role.MLP_UP, 0, rows=(inter, 2 * inter))]

    def model() -> Model:
        from heredity.checkpoint.open import open_checkpoint

        return Model(checkpoint=open_checkpoint(path), spec=base.spec, refs=refs)

    _same(*_both(model, monkeypatch))


@pytest.mark.parametrize("kind", ["ones", "two", "zeros95", "zeros89", "zeros91", "random", "nan", "median-trap"])
def test_constant_scan_matches_is_constant(kind: str) -> None:
    rng = np.random.default_rng(1)
    n = 400_000
    v = rng.normal(size=n).astype(np.float32)
    if kind == "ones":
        v[:] = 1
    elif kind == "two":
        v = np.where(v > 0, 1.0, -1.0).astype(np.float32)
    elif kind.startswith("zeros"):
        v[rng.random(n) < int(kind[5:]) / 100] = 0
    elif kind == "nan":
        v[17] = np.nan
    elif kind == "median-trap":  # zero is most chunks' median but covers only 60 % of the entries
        v[rng.random(n) < 0.6] = 0
    scan = stats.ConstantScan()
    cuts = np.sort(rng.choice(n, 12, replace=False))
    pieces = np.split(v, cuts)
    for piece in pieces:
        scan.add(piece)
    got = scan.result()
    if got is None:
        for piece in pieces[::-1]:
            scan.count(piece)
        got = scan.result()
    assert got is stats.is_constant(v)


@pytest.mark.parametrize("kind", ["random", "zeros95", "zeros85", "nan95", "signed-zeros", "few", "median-trap"])
@pytest.mark.parametrize("cap", [8, 1 << 16])
def test_identical_block_digest_matches_whole(kind: str, cap: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """`identical`'s hash, constant flag and distinct count of a tensor read in row blocks (past the
    distinct cap: the majority-block candidate and its exact count) against the whole-tensor digest."""
    from heredity.evidence import identical
    from heredity.layouts.model import ModelSpec

    rng = np.random.default_rng(5)
    w = rng.normal(size=(600, 50)).astype(np.float32)
    mask = rng.random(w.shape)
    if kind.startswith("zeros"):
        w[mask < int(kind[5:]) / 100] = 0
    elif kind == "nan95":
        w[mask < 0.95] = np.nan
    elif kind == "signed-zeros":
        w[mask < 0.5] = 0.0
        w[mask > 0.55] = -0.0
    elif kind == "few":
        w = np.round(w).astype(np.float32)
    elif kind == "median-trap":  # zero is the majority of most blocks but covers 75 % of the entries
        w[:450] = 0
    model = Model(checkpoint=MemoryCheckpoint({"m": w}), spec=ModelSpec("llama", "memory", 1, 50, 1, 1, 50, 1, 1),
                  refs=[TensorRef("m", Role.MLP_UP, 0)])
    whole = identical._digest(model.get(Role.MLP_UP, 0))
    monkeypatch.setattr(features, "STREAM_ABOVE", 0)
    monkeypatch.setattr(features, "BLOCK_ELEMENTS", 1000)
    monkeypatch.setattr(identical, "DISTINCT_CAP", cap)
    blocks = features.row_blocks_of(model, model.ref(Role.MLP_UP, 0))
    assert blocks is not None and len(blocks) == 30
    got = identical._block_digest(model, model.ref(Role.MLP_UP, 0), blocks)
    assert got[:3] == whole[:3]
    assert got[3] == whole[3] if whole[3] <= cap else got[3] > cap


def test_identical_copy_through_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model and its copy: the same `identical` evidence, bytes read and read provenance (one digest
    per tensor, as a whole read gives) whether tensors are hashed whole or in blocks."""
    from heredity.compare import compare

    weights = _weights()

    def model() -> Model:  # one matrix read with Gemma's ``1 + w``: the block path adds 1 too
        m = to_model(weights, TOY)
        refs = [TensorRef(r.name, r.role, r.layer, plus_one=True) if r.key == (Role.MLP_GATE, 1, None) else r
                for r in m.refs]
        return Model(checkpoint=m.checkpoint, spec=m.spec, refs=refs)

    whole = compare(model(), model(), tests=[IdenticalTest()])
    monkeypatch.setattr(features, "STREAM_ABOVE", 0)
    monkeypatch.setattr(features, "BLOCK_ELEMENTS", 1000)
    blocks = compare(model(), model(), tests=[IdenticalTest()])
    eb, ew = blocks.evidence[0], whole.evidence[0]
    assert eb.p_value == ew.p_value and eb.statistic == ew.statistic
    assert eb.detail == ew.detail and eb.detail["shared_count"] > 10
    assert blocks.bytes_read == whole.bytes_read and blocks.tensors_read == whole.tensors_read
    assert blocks.extras["tensor_sha256"] == whole.extras["tensor_sha256"]
    assert blocks.extras["tensor_rows"] == whole.extras["tensor_rows"] == {"a": {}, "b": {}}


def test_model_tensor_hashes_through_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """``ModelFeatures.tensor_hashes`` (constant: ``is_constant`` of the raw values, so a NaN makes a
    matrix constant) gives the same answers read in blocks."""
    weights = _weights()
    whole = features.ModelFeatures(to_model(weights, TOY)).tensor_hashes()
    monkeypatch.setattr(features, "STREAM_ABOVE", 0)
    monkeypatch.setattr(features, "BLOCK_ELEMENTS", 1000)
    monkeypatch.setattr(stats, "_SMALL", 64)
    blocks = features.ModelFeatures(to_model(weights, TOY)).tensor_hashes()
    assert blocks == whole and whole["q@0"][2] and whole["mlp_up@1"][2] and not whole["mlp_gate@2"][2]


def test_first_rows_of_fused_stacked_and_transposed_storage(tmp_path: Path) -> None:
    """``read_rows`` (and the request its prefetch announces) gives the canonical first rows whatever
    the storage: a row slice of a fused tensor, one expert of a stacked tensor, a transposed matrix."""
    from heredity.checkpoint.open import open_checkpoint
    from heredity.evidence.features import ModelFeatures, _first_rows_request, role_key

    weights = _weights()
    gate, up, down = weights.pop("mlp_gate@0"), weights.pop("mlp_up@0"), weights.pop("mlp_down@0")
    stored = {**weights, "gate_up@0": np.concatenate([gate, up]), "experts_down@0": np.stack([down, 2 * down]),
              "down_t@0": np.ascontiguousarray(down.T)}
    path = save_safetensors(stored, tmp_path / "m.safetensors")
    base = to_model(weights, TOY)
    inter = TOY.inter
    refs = [*base.refs, TensorRef("gate_up@0", Role.MLP_UP, 0, rows=(inter, 2 * inter)),
            TensorRef("experts_down@0", Role.EXPERT_DOWN, 0, expert=1, index=1),
            TensorRef("down_t@0", Role.MLP_DOWN, 0, transpose=True)]
    f = ModelFeatures(Model(checkpoint=open_checkpoint(path), spec=base.spec, refs=refs))
    for ref, want in ((refs[-3], up), (refs[-2], 2 * down), (refs[-1], down)):
        got = f.read_rows(role_key(ref.role, ref.layer, ref.expert), 3)
        assert np.array_equal(got, want[:3].astype(np.float32)), ref
        assert _first_rows_request(ref, 3) == f.model.load_request(ref)  # not plain: the whole read
