"""The JSON of ``heredity compare`` carries a sha256 for every tensor it read, reproducible by anyone."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from heredity.checkpoint import open_checkpoint
from heredity.cli.main import main

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"


def test_json_hashes_every_tensor_read(capsys: pytest.CaptureFixture[str]) -> None:
    a, b = MODELS / "qwen2-base", MODELS / "moge-scratch"
    assert main(["compare", str(a), str(b), "--format", "json", "-q", "--tests", "vectors,identical"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for side, path in (("a", a), ("b", b)):
        hashes = doc["tensor_sha256"][side]
        assert set(hashes) == set(doc["tensors_read"][side]) and hashes
        whole = {n: h for n, h in hashes.items() if n not in doc["tensor_rows"].get(side, {})}
        assert whole, "at least one tensor is read whole"
        with open_checkpoint(path) as ckpt:
            for name, digest in whole.items():
                assert hashlib.sha256(ckpt.read(name).tobytes()).hexdigest() == digest
