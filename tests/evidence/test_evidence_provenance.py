"""Provenance: every tensor a comparison read gets the sha256 of the values the tests saw, recorded
without swapping or mutating the caller's objects (so comparisons may run in parallel threads)."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from evidence_toys import Toy, finetune, make, to_model

from heredity.checkpoint.base import MemoryCheckpoint
from heredity.checkpoint.recorder import ReadRecorder, RecordingCheckpoint, hashes, unique_bytes
from heredity.compare import compare
from heredity.evidence.vectors import VectorsTest
from heredity.report.html import render

TOY = Toy(biases=True)


def test_every_read_tensor_is_hashed_as_read() -> None:
    ma, mb = to_model(make(TOY, 1), TOY), to_model(make(TOY, 2), TOY)
    checkpoint, recorder = ma.checkpoint, ma.recorder
    c = compare(ma, mb)
    digests, rows = c.extras["tensor_sha256"], c.extras["tensor_rows"]
    assert ma.checkpoint is checkpoint and ma.recorder is recorder  # the caller's objects are untouched
    assert ma.recorder.since() == () and ma.bytes_read == 0  # the comparison read through its own view
    for side, model in (("a", ma), ("b", mb)):
        assert set(digests[side]) == set(c.tensors_read[side]) and digests[side]
        for name, digest in digests[side].items():
            if name not in rows[side]:
                assert digest == hashlib.sha256(model.checkpoint.read(name).tobytes()).hexdigest(), name
    assert digests["a"] != digests["b"]


def test_html_shows_hashes_not_placeholder() -> None:
    c = compare(to_model(make(TOY, 1), TOY), to_model(make(TOY, 2), TOY), tests=[VectorsTest()])
    html = render(c)
    assert "not recorded</span>" not in html  # no tensor row lacks its hash
    assert next(iter(c.extras["tensor_sha256"]["a"].values())) in html
    assert "float32 values each read returned" in html


def test_same_model_on_both_sides() -> None:
    m = to_model(make(TOY, 1), TOY)
    c = compare(m, m, tests=[VectorsTest()])
    assert m.recorder.since() == ()
    assert c.extras["tensor_sha256"]["a"] == c.extras["tensor_sha256"]["b"]
    assert c.bytes_read["a"] == c.bytes_read["b"] > 0


def _stable(d: dict) -> str:  # type: ignore[type-arg]
    """The comparison's JSON without timings."""
    d = dict(d)
    d.pop("seconds")
    d["evidence"] = [{k: v for k, v in e.items() if k != "seconds"} for e in d["evidence"]]
    return json.dumps(d, sort_keys=True)


def test_two_comparisons_in_two_threads_match_one_after_the_other() -> None:
    """Two comparisons sharing one model run at once: same JSON as run in sequence."""
    base = to_model(make(TOY, 1), TOY)
    others = [to_model(finetune(make(TOY, 1), 3), TOY), to_model(make(TOY, 2), TOY)]
    sequential = [_stable(compare(base, o).to_dict()) for o in others]
    with ThreadPoolExecutor(max_workers=2) as pool:
        parallel = list(pool.map(lambda o: _stable(compare(base, o).to_dict()), others))
    assert parallel == sequential
    assert base.recorder.since() == ()


def test_partial_reads_hash_the_rows_read() -> None:
    w = np.arange(24, dtype=np.float32).reshape(6, 4)
    rec = ReadRecorder()
    ck = RecordingCheckpoint(MemoryCheckpoint({"w": w, "v": w[0]}), rec)
    ck.read("w", rows=slice(0, 2))
    ck.read("v")
    digests, rows = hashes(rec.since())
    assert digests["w"] == hashlib.sha256(w[:2].tobytes()).hexdigest() and rows == {"w": [[0, 2]]}
    ck.read("w", rows=slice(4, 5))
    parts = hashlib.sha256(w[:2].tobytes()).hexdigest() + hashlib.sha256(w[4:5].tobytes()).hexdigest()
    digests, rows = hashes(rec.since())
    assert digests["w"] == hashlib.sha256(parts.encode()).hexdigest() and rows["w"] == [[0, 2], [4, 5]]
    ck.read("w", rows=slice(0, 2))  # a repeated read is counted once
    assert unique_bytes(rec.since()) == w.nbytes * 3 // 6 + w[0].nbytes
    ck.read("w", rows=slice(0, 6))  # the whole first axis counts as a whole read
    digests, rows = hashes(rec.since())
    assert digests["w"] == hashlib.sha256(w.tobytes()).hexdigest() and "w" not in rows
    assert unique_bytes(rec.since()) == w.nbytes + w[0].nbytes


def test_bytes_read_never_exceed_what_is_stored() -> None:
    """Several tests read the same tensors; each stored byte is counted once (not 678 MiB from 513)."""
    ma, mb = to_model(make(TOY, 1), TOY), to_model(finetune(make(TOY, 1), 3), TOY)
    c = compare(ma, mb, thorough=True)
    stored = sum(i.nbytes for i in ma.checkpoint.tensors.values())
    assert 0 < c.bytes_read["a"] <= stored
    assert c.bytes_read["a"] < sum(sum(e.reads.read.values()) for e in c.evidence)  # tests do re-read
