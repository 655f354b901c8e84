"""The engine: inputs it accepts, what it reads, progress, and the JSON it feeds the renderers."""

from __future__ import annotations

import json

import pytest
from evidence_toys import Toy, make, to_model

from heredity.compare import compare
from heredity.errors import UsageError
from heredity.evidence import plan
from heredity.results import COMPARE_SCHEMA

TOY = Toy(biases=True)


def test_progress_and_selection() -> None:
    steps: list[tuple[str, int, int]] = []
    c = compare(to_model(make(TOY, 1), TOY), to_model(make(TOY, 2), TOY), tests=[plan.by_name("vectors")()],
                progress=lambda s, d, t: steps.append((s, d, t)))
    assert steps == [("vectors", 0, 1), ("verdict", 1, 1)]
    assert [e.test for e in c.evidence] == ["vectors"]
    # only 1-D vectors were read: no weight matrix
    assert all("norm" in n or "bias" in n for n in c.tensors_read["a"])
    assert c.bytes_read["a"] < 10_000


def test_unknown_test_is_usage_error() -> None:
    with pytest.raises(UsageError):
        plan.by_name("bogus")


def test_to_dict_is_the_public_schema() -> None:
    c = compare(to_model(make(TOY, 1), TOY), to_model(make(TOY, 2), TOY), seed=3)
    doc = json.loads(json.dumps(c.to_dict()))
    assert doc["schema"] == COMPARE_SCHEMA and doc["verdict"] in {"related", "independent", "inconclusive"}
    assert {e["test"] for e in doc["evidence"]} == {"identical", "vectors", "embeddings", "matching", "neurons",
                                                   "experts", "layers", "attn_std"}
    assert doc["a"]["layers"] == TOY.layers and doc["version"]
    assert 0.0 <= doc["p_value"] <= 1.0


def test_missing_path_is_input_error(tmp_path: object) -> None:
    from heredity.errors import InputError

    with pytest.raises(InputError):
        compare("/nonexistent/model.safetensors", "/nonexistent/other.safetensors")
