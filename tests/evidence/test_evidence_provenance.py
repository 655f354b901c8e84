"""Provenance hashes: every tensor a comparison read gets the sha256 of the values the tests saw."""

from __future__ import annotations

import hashlib

import numpy as np
from evidence_toys import Toy, make, to_model

from heredity.checkpoint.base import MemoryCheckpoint
from heredity.compare import compare
from heredity.provenance import HashingCheckpoint, record
from heredity.report.html import render

TOY = Toy(biases=True)


def test_every_read_tensor_is_hashed_as_read() -> None:
    ma, mb = to_model(make(TOY, 1), TOY), to_model(make(TOY, 2), TOY)
    inner_a = ma.checkpoint
    c = compare(ma, mb)
    hashes, rows = c.extras["tensor_sha256"], c.extras["tensor_rows"]
    assert ma.checkpoint is inner_a  # the wrapper is gone after the comparison
    for side, model in (("a", ma), ("b", mb)):
        assert set(hashes[side]) == set(c.tensors_read[side]) and hashes[side]
        for name, digest in hashes[side].items():
            if name not in rows[side]:
                assert digest == hashlib.sha256(model.checkpoint.read(name).tobytes()).hexdigest(), name
    assert hashes["a"] != hashes["b"]


def test_html_shows_hashes_not_placeholder() -> None:
    c = compare(to_model(make(TOY, 1), TOY), to_model(make(TOY, 2), TOY), tests=["vectors"])
    html = render(c)
    assert "not recorded</span>" not in html  # no tensor row lacks its hash
    assert next(iter(c.extras["tensor_sha256"]["a"].values())) in html
    assert "float32 values each read returned" in html


def test_same_model_on_both_sides_is_unwrapped_once() -> None:
    m = to_model(make(TOY, 1), TOY)
    inner = m.checkpoint
    c = compare(m, m, tests=["vectors"])
    assert m.checkpoint is inner
    assert c.extras["tensor_sha256"]["a"] == c.extras["tensor_sha256"]["b"]


def test_partial_reads_hash_the_rows_read() -> None:
    w = np.arange(24, dtype=np.float32).reshape(6, 4)
    ck = HashingCheckpoint(MemoryCheckpoint({"w": w, "v": w[0]}))
    ck.read("w", rows=slice(0, 2))
    ck.read("v")
    hashes, rows = record(ck)
    assert hashes["w"] == hashlib.sha256(w[:2].tobytes()).hexdigest() and rows == {"w": [[0, 2]]}
    ck.read("w", rows=slice(4, 5))
    parts = hashlib.sha256(w[:2].tobytes()).hexdigest() + hashlib.sha256(w[4:5].tobytes()).hexdigest()
    hashes, rows = record(ck)
    assert hashes["w"] == hashlib.sha256(parts.encode()).hexdigest() and rows["w"] == [[0, 2], [4, 5]]
    ck.read("w", rows=slice(0, 6))  # the whole first axis counts as a whole read
    hashes, rows = record(ck)
    assert hashes["w"] == hashlib.sha256(w.tobytes()).hexdigest() and "w" not in rows
