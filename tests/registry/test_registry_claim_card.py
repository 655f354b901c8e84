"""Reading the claimed base from a model card's YAML header."""

from __future__ import annotations

import pytest

from heredity.registry.claim import parse_base_model


@pytest.mark.parametrize(("card", "expected"), [
    ("---\nbase_model: org/base\n---\n", ["org/base"]),
    ("---\nlicense: mit\nbase_model: 'org/base'  # the parent\n---\ntext", ["org/base"]),
    ("---\nbase_model: [org/a, \"org/b\"]\n---\n", ["org/a", "org/b"]),
    ("---\nbase_model:\n  - org/a\n  - org/b\ntags:\n  - x\n---\n", ["org/a", "org/b"]),
    ("---\nbase_model:\n- org/a\n---\n", ["org/a"]),
    ("---\nlicense: mit\n---\nbase_model: org/not-in-the-header\n", []),
    ("base_model: org/no-front-matter\n", []),
    ("", []),
])
def test_parse_base_model(card: str, expected: list[str]) -> None:
    assert parse_base_model(card) == expected
