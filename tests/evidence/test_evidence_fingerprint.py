"""Fingerprints: round trip, what they allow, and hostile files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from evidence_toys import Toy, finetune, make, obfuscate, to_model

from heredity.compare import compare
from heredity.errors import CorruptCheckpointError, NotFoundError
from heredity.fingerprint import SCHEMA, extract, is_fingerprint_file, load, save

TOY = Toy(biases=True)


@pytest.fixture()
def saved(tmp_path: Path) -> Path:
    return save(extract(to_model(make(TOY, 1), TOY)), tmp_path / "a.json")


def test_round_trip(saved: Path) -> None:
    fp = load(saved)
    orig = extract(to_model(make(TOY, 1), TOY))
    assert json.loads(saved.read_text())["schema"] == SCHEMA and is_fingerprint_file(saved)
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
    other = save(extract(to_model(make(TOY, 1), TOY)), tmp_path / "b.json")
    ev = {e.test: e for e in compare(saved, other).evidence}
    assert ev["identical"].p_value is not None and ev["identical"].p_value < 1e-100


def test_fingerprints_of_fresh_inits_not_related(tmp_path: Path) -> None:
    a = save(extract(to_model(make(TOY, 5, trained=False), TOY)), tmp_path / "a.json")
    b = save(extract(to_model(make(TOY, 6, trained=False), TOY)), tmp_path / "b.json")
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
    fa = save(extract(to_model(base, toy)), tmp_path / "a.json")
    ev = {e.test: e for e in compare(fa, to_model(derived, toy)).evidence}
    assert ev["matching"].p_value < 1e-20 and ev["matching"].detail["per_layer"]["0~0"]["rows"] == 128
    fb = save(extract(to_model(derived, toy)), tmp_path / "b.json")
    ev = {e.test: e for e in compare(fa, fb).evidence}
    assert ev["matching"].p_value < 1e-20 and 0.3 < ev["matching"].statistic < 0.7


def _edit(path: Path, **changes: object) -> None:
    doc = json.loads(path.read_text())
    doc.update(changes)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("changes,match", [
    ({"schema": "other/1"}, "not a heredity.fingerprint/1"),
    ({"arrays": "../escape.safetensors"}, "escapes"),
    ({"keys": ["no_such_role@1"]}, "malformed"),
    ({"spec": {"family": "x"}}, "malformed"),
    ({"hashes": {"q@0": ["h"]}}, "malformed"),
])
def test_hostile_json(saved: Path, changes: dict[str, object], match: str) -> None:
    _edit(saved, **changes)
    with pytest.raises(CorruptCheckpointError, match=match):
        load(saved)


def test_not_json_and_missing(saved: Path, tmp_path: Path) -> None:
    saved.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(CorruptCheckpointError):
        load(saved)
    with pytest.raises(NotFoundError):
        load(tmp_path / "none.json")


def test_side_file_with_matrix_rejected(saved: Path) -> None:
    from safetensors.numpy import save_file

    save_file({"attn_norm@0": np.zeros((4, 4), dtype=np.float32)}, str(saved.with_suffix(".safetensors")))
    with pytest.raises(CorruptCheckpointError, match="not a vector"):
        load(saved)
