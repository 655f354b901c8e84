"""The JSON of ``heredity compare`` carries a sha256 for every tensor it read, reproducible by anyone."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from heredity.checkpoint import open_checkpoint
from heredity.cli.main import main
from heredity.evidence import plan

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


def test_compare_and_fingerprint_count_params_like_inspect(tmp_path: Path) -> None:
    """One parameter count everywhere: a tied head exposed under two names (llama2.c) is counted once."""
    from heredity import fingerprint
    from heredity.compare import compare
    from heredity.inspect import inspect_model
    from heredity.layouts import load_model
    from heredity.synth import make_checkpoint

    ckpt = make_checkpoint("llama", tie_embeddings=True)
    ckpt.arrays["lm_head.weight"] = ckpt.arrays["model.embed_tokens.weight"]  # a reader's alias of the tie
    model = load_model(ckpt)
    expected = inspect_model(model).params
    assert expected == sum(a.size for n, a in ckpt.arrays.items() if n != "lm_head.weight")
    assert compare(model, model, tests=[plan.by_name("identical")()]).a.params == expected
    assert fingerprint.extract(model).params == expected
