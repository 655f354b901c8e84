"""JSON renderer: exactly Comparison.to_dict(), strict JSON, valid against heredity.compare/1."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import report_samples  # noqa: E402

from heredity.report import json_render, schema  # noqa: E402
from heredity.results import Evidence  # noqa: E402


@pytest.mark.parametrize("related", [True, False])
def test_json_is_exactly_to_dict(related: bool) -> None:
    comp = report_samples.comparison(related=related)
    assert json.loads(json_render.render(comp)) == comp.to_dict()


@pytest.mark.parametrize("related", [True, False])
def test_json_validates_against_schema(related: bool) -> None:
    doc = json.loads(json_render.render(report_samples.comparison(related=related)))
    assert schema.validate(doc) == []


def test_nan_values_become_null() -> None:
    comp = report_samples.comparison()
    ev = Evidence("vectors", True, math.nan, math.nan, detail={"curve": [1.0, math.nan, math.inf]})
    doc = json.loads(json_render.render(dataclasses.replace(comp, evidence=(ev,))))
    assert doc["evidence"][0]["statistic"] is None and doc["evidence"][0]["detail"]["curve"] == [1.0, None, None]
    assert schema.validate(doc) == []


def test_schema_rejects_broken_documents() -> None:
    doc = report_samples.comparison().to_dict()
    doc["verdict"] = "maybe"
    doc["evidence"][1]["p_value"] = 1.5
    doc["a"]["layers"] = "six"
    del doc["schema"]
    doc["surprise"] = 1
    errors = schema.validate(doc)
    assert len(errors) == 5, errors
    assert any("$.evidence[1].p_value" in e for e in errors)


def test_schema_booleans_are_not_numbers() -> None:
    assert schema.validate(True, {"type": "number"}) != []
    assert schema.validate(3, {"type": ["integer", "null"]}) == []
