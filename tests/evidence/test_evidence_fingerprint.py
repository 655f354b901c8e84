"""Fingerprints: round trip, what they allow, and hostile files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from evidence_toys import Toy, finetune, make, obfuscate, to_model

from heredity.checkpoint.writers import save_safetensors
from heredity.compare import compare
from heredity.errors import CorruptCheckpointError, NotFoundError
from heredity.fingerprint import FORMAT, SCHEMA, extract, is_fingerprint_file, load, save
from heredity.fingerprint.io import document

TOY = Toy(biases=True)


@pytest.fixture()
def saved(tmp_path: Path) -> Path:
    return save(extract(to_model(make(TOY, 1), TOY)), tmp_path / "a.fp")


def test_round_trip(saved: Path) -> None:
    fp = load(saved)
    orig = extract(to_model(make(TOY, 1), TOY))
    assert _document(saved)["schema"] == SCHEMA and is_fingerprint_file(saved)
    assert fp.spec == orig.spec and fp.keys == orig.keys and fp.hashes == orig.hashes
    assert all(np.array_equal(fp.vectors[k], orig.vectors[k]) for k in orig.vectors)
    assert fp.std == orig.std
    assert set(fp.rows) == set(orig.rows) and "mlp_gate@0" in fp.rows and "embed" in fp.rows


def test_compare_fingerprint_with_model(saved: Path) -> None:
    c = compare(saved, to_model(finetune(make(TOY, 1), 2, eps=0.3), TOY), thorough=True)
    assert c.verdict.label == "related"
    assert c.a.is_fingerprint and c.bytes_read["a"] == 0
    assert set(c.extras["fingerprint_excluded"]) == {"experts"}
    assert {e.test: e for e in c.evidence}["matching"].p_value < 1e-20  # through the sketch


def test_fingerprint_of_copy_identical(saved: Path, tmp_path: Path) -> None:
    other = save(extract(to_model(make(TOY, 1), TOY)), tmp_path / "b.fp")
    ev = {e.test: e for e in compare(saved, other).evidence}
    assert ev["identical"].p_value is not None and ev["identical"].p_value < 1e-100


def test_fingerprints_of_fresh_inits_not_related(tmp_path: Path) -> None:
    a = save(extract(to_model(make(TOY, 5, trained=False), TOY)), tmp_path / "a.fp")
    b = save(extract(to_model(make(TOY, 6, trained=False), TOY)), tmp_path / "b.fp")
    c = compare(a, b)
    assert not {e.test: e for e in c.evidence}["vectors"].applicable  # all constant
    assert c.verdict.label == "independent"  # matching on the two sketches has power


def test_sketch_matches_into_permuted_model(tmp_path: Path) -> None:
    """Fingerprint vs model: the sketched neurons are found among all of the model's neurons, so an
    obfuscated (channel- and neuron-permuted) fine-tune is still caught.  Fingerprint vs fingerprint
    only sees the neurons both sketches happen to hold (here about half: the neuron permutation is
    random), and agrees on about that fraction."""
    toy = Toy(inter=256)
    base = make(toy, 8)
    derived = obfuscate(finetune(base, 9, eps=0.2), toy, seed=10)
    fa = save(extract(to_model(base, toy)), tmp_path / "a.fp")
    # thorough: the cheaper `embeddings` would settle the verdict before `matching` runs
    ev = {e.test: e for e in compare(fa, to_model(derived, toy), thorough=True).evidence}
    assert ev["matching"].p_value < 1e-20 and ev["matching"].detail["per_layer"]["0~0"]["rows"] == 128
    fb = save(extract(to_model(derived, toy)), tmp_path / "b.fp")
    ev = {e.test: e for e in compare(fa, fb, thorough=True).evidence}
    assert ev["matching"].p_value < 1e-20 and 0.3 < ev["matching"].statistic < 0.7


def _document(path: Path) -> dict[str, object]:
    from safetensors import safe_open

    with safe_open(str(path), "np") as f:
        meta = f.metadata()
    assert meta["format"] == FORMAT
    return dict(json.loads(meta["document"]))


def _rewrite(path: Path, arrays: dict[str, np.ndarray] | None = None, **changes: object) -> None:
    """Rewrite a fingerprint file with its document edited and (optionally) other arrays."""
    from safetensors.numpy import load_file

    doc = _document(path) | changes
    save_safetensors(load_file(str(path)) if arrays is None else arrays, path,
                     metadata={"format": FORMAT, "document": json.dumps(doc)})


@pytest.mark.parametrize("changes,match", [
    ({"schema": "other/1"}, "not a heredity.fingerprint/1"),
    ({"keys": ["no_such_role@1"]}, "malformed"),
    ({"keys": ["q@-3"]}, "malformed"),
    ({"keys": ["q@99999999"]}, "out of range"),
    ({"spec": {"family": "x"}}, "malformed"),
    ({"spec": {"family": "x", "format": "y", "layers": 1e300}}, "malformed"),
    ({"hashes": {"q@0": ["h"]}}, "malformed"),
    ({"std": {"q": {"0": "NaN?"}}}, "malformed"),
    ({"std": {"q": {"-1": 1.0}}}, "malformed"),
    ({"params": float("inf")}, "malformed"),
    ({"source": ["a"]}, "malformed"),
])
def test_hostile_document(saved: Path, changes: dict[str, object], match: str) -> None:
    _rewrite(saved, **changes)
    with pytest.raises(CorruptCheckpointError, match=match):
        load(saved)


def test_not_a_fingerprint_and_missing(saved: Path, tmp_path: Path) -> None:
    saved.write_bytes(b"\xff\xfe garbage")
    assert not is_fingerprint_file(saved)
    with pytest.raises(CorruptCheckpointError, match="not a heredity.fingerprint file"):
        load(saved)
    with pytest.raises(NotFoundError):
        load(tmp_path / "none.fp")


def test_truncated_file(saved: Path) -> None:
    saved.write_bytes(saved.read_bytes()[:-10])
    with pytest.raises(CorruptCheckpointError, match="past the end|truncated"):
        load(saved)


@pytest.mark.parametrize("arrays,match", [
    ({"attn_norm@0": np.zeros((4, 4), dtype=np.float32)}, "vector must be a bounded 1-D F32"),
    ({"rows/embed": np.zeros(4, dtype=np.float16)}, "sketch must be a bounded 2-D F16"),
    ({"attn_norm@0": np.zeros(4, dtype=np.float64)}, "1-D F32"),
    ({"nonsense": np.zeros(4, dtype=np.float32)}, "malformed"),
])
def test_hostile_arrays(saved: Path, arrays: dict[str, np.ndarray], match: str) -> None:
    _rewrite(saved, arrays=arrays)
    with pytest.raises(CorruptCheckpointError, match=match):
        load(saved)


def _old_pair(tmp_path: Path) -> Path:
    """The pair format earlier versions wrote: NAME.json (document + "arrays") and NAME.safetensors."""
    fp = extract(to_model(make(TOY, 1), TOY))
    arrays = {k: v.astype(np.float32) for k, v in fp.vectors.items()}
    arrays |= {"rows/" + k: v.astype(np.float16) for k, v in fp.rows.items()}
    save_safetensors(arrays, tmp_path / "old.safetensors")
    (tmp_path / "old.json").write_text(json.dumps(document(fp) | {"arrays": "old.safetensors"}))
    return tmp_path / "old.json"


def test_old_pair_still_read(tmp_path: Path, saved: Path) -> None:
    old = load(_old_pair(tmp_path))
    new = load(saved)
    assert old.keys == new.keys and old.hashes == new.hashes and old.std == new.std
    assert all(np.array_equal(old.vectors[k], new.vectors[k]) for k in new.vectors)
    assert is_fingerprint_file(tmp_path / "old.json")


def test_old_pair_hostile(tmp_path: Path) -> None:
    doc = _old_pair(tmp_path)
    body = json.loads(doc.read_text())
    doc.write_text(json.dumps(body | {"arrays": "../escape.safetensors"}))
    with pytest.raises(CorruptCheckpointError, match="escapes"):
        load(doc)
    save_safetensors({"attn_norm@0": np.zeros((4, 4), dtype=np.float32)}, tmp_path / "old.safetensors")
    doc.write_text(json.dumps(body))
    with pytest.raises(CorruptCheckpointError, match="not a vector"):
        load(doc)
    (tmp_path / "old.safetensors").unlink()
    with pytest.raises(NotFoundError, match="array half"):
        load(doc)
