"""The ``heredity.compare/1`` JSON schema, and a tiny validator for the subset of JSON Schema it uses.

The schema is the public contract of ``heredity compare --format json``; tests validate real output
against it.  ``jsonschema`` is not a dependency, so :func:`validate` implements just the keywords used
here (type, required, properties, additionalProperties, items, enum, const, minimum, maximum) and
returns every violation as a ``path: problem`` line.
"""

from __future__ import annotations

from typing import Any

from heredity.plotdata import KINDS
from heredity.results import Exclusion

_P = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
_NAMES = {"type": "array", "items": {"type": "string"}}

MODEL_SUMMARY: dict[str, Any] = {
    "type": "object",
    "required": ["source", "format", "family", "layers", "hidden_size", "params", "experts", "inferred", "is_fingerprint"],
    "properties": {
        "source": {"type": "string"},
        "format": {"type": "string"},
        "family": {"type": "string"},
        "layers": {"type": ["integer", "null"], "minimum": 0},
        "hidden_size": {"type": ["integer", "null"], "minimum": 0},
        "params": {"type": ["integer", "null"], "minimum": 0},
        "experts": {"type": ["integer", "null"], "minimum": 0},
        "inferred": {"type": "boolean"},
        "is_fingerprint": {"type": "boolean"},
    },
}

_BYTES = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}

EVIDENCE: dict[str, Any] = {
    "type": "object",
    "required": ["test", "applicable", "statistic", "p_value", "descriptive", "reason", "excluded", "summary",
                 "compares", "power", "params", "reads", "seconds", "detail", "plots", "context"],
    "additionalProperties": False,
    "properties": {
        "test": {"type": "string"},
        "applicable": {"type": "boolean"},
        "statistic": {"type": ["number", "null"]},
        "p_value": _P,
        "descriptive": {"type": "boolean"},
        "reason": {"type": ["string", "null"]},
        "excluded": {"enum": [None, *(e.value for e in Exclusion)]},
        "summary": {"type": "string"},
        "compares": {"type": "string"},
        "power": {"type": ["object", "null"], "required": ["main_weights", "statement"],
                  "properties": {"main_weights": {"type": "boolean"}, "statement": {"type": "string"}}},
        "params": {"type": "object"},
        "reads": {"type": "object", "required": ["declared_bytes", "bytes_read", "tensors"],
                  "properties": {"declared_bytes": _BYTES, "bytes_read": _BYTES,
                                 "tensors": {"type": "object", "additionalProperties": _NAMES}}},
        "seconds": {"type": "number", "minimum": 0},
        "detail": {"type": "object"},
        "plots": {"type": "array", "items": {"type": "object", "required": ["kind", "title", "caption"],
                                             "properties": {"kind": {"enum": sorted(KINDS)}}}},
        "context": {"type": "string"},
    },
}

LABELS = ["related", "independent", "inconclusive"]

COMPARE_V1: dict[str, Any] = {
    "type": "object",
    "required": ["schema", "verdict", "p_value", "verdict_detail", "a", "b", "evidence", "tensors_read", "bytes_read", "seconds", "version", "command"],
    "additionalProperties": False,
    "properties": {
        "schema": {"const": "heredity.compare/1"},
        "verdict": {"enum": LABELS},
        "p_value": _P,
        "verdict_detail": {
            "type": "object",
            "required": ["label", "p_value", "sentence", "reason", "power", "threshold"],
            "properties": {"label": {"enum": LABELS}, "p_value": _P, "sentence": {"type": "string"},
                           "reason": {"type": "string"}, "power": {"type": "string"}, "threshold": _P},
        },
        "a": MODEL_SUMMARY,
        "b": MODEL_SUMMARY,
        "evidence": {"type": "array", "items": EVIDENCE},
        "tensors_read": {"type": "object", "additionalProperties": _NAMES},
        "bytes_read": _BYTES,
        "nonfinite": {"type": "object", "additionalProperties": _BYTES},
        "plan": {"type": "object", "required": ["mode", "order", "settled_by", "corrected_for"],
                 "properties": {"mode": {"enum": ["adaptive", "thorough"]}, "order": _NAMES,
                                "settled_by": {"type": ["string", "null"]},
                                "corrected_for": {"type": ["integer", "null"], "minimum": 1}}},
        "tensor_sha256": {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"}}},
        "tensor_rows": {"type": "object"},
        "seconds": {"type": "number", "minimum": 0},
        "version": {"type": "string"},
        "command": {"type": "string"},
    },
}

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float), "null": (type(None),),
}


def _type_ok(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False  # JSON booleans are not numbers
    return isinstance(value, _TYPES[name])


def _check_scalar(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    errors = []
    types = schema.get("type")
    if types is not None and not any(_type_ok(value, t) for t in ([types] if isinstance(types, str) else types)):
        errors.append(f"{path}: expected {types}, got {type(value).__name__}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} above {schema['maximum']}")
    return errors


def _check_object(value: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
    errors = [f"{path}: missing {k!r}" for k in schema.get("required", []) if k not in value]
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in props:
            errors += validate(item, props[key], f"{path}.{key}")
        elif extra is False:
            errors.append(f"{path}: unexpected key {key!r}")
        elif isinstance(extra, dict):
            errors += validate(item, extra, f"{path}.{key}")
    return errors


def validate(value: Any, schema: dict[str, Any] = COMPARE_V1, path: str = "$") -> list[str]:
    """Every way ``value`` violates ``schema``; an empty list means valid."""
    errors = _check_scalar(value, schema, path)
    if errors:
        return errors
    if isinstance(value, dict):
        return _check_object(value, schema, path)
    if isinstance(value, list) and "items" in schema:
        return [e for i, v in enumerate(value) for e in validate(v, schema["items"], f"{path}[{i}]")]
    return []
