"""JSON rendering: exactly :meth:`heredity.results.Comparison.to_dict` (schema ``heredity.compare/1``).

Strict JSON (``allow_nan=False``): ``to_dict`` already maps NaN/inf to null, so a value that slips
through is a bug and fails loudly instead of producing a file other tools cannot parse.
"""

from __future__ import annotations

import json
from typing import Any

from heredity.results import Comparison


def dumps(obj: Any, indent: int | None = 2) -> str:
    """Serialise to strict JSON, keys in insertion order, non-ASCII kept readable."""
    return json.dumps(obj, indent=indent, allow_nan=False, ensure_ascii=False)


def render(comp: Comparison) -> str:
    """The ``heredity.compare/1`` document for one comparison, newline-terminated."""
    return dumps(comp.to_dict()) + "\n"
