"""Roles for stored names no family table knows (filled in below)."""

from __future__ import annotations

from heredity.checkpoint.base import TensorInfo
from heredity.layouts.model import TensorRef


def infer_refs(infos: list[TensorInfo], known: list[TensorRef]) -> tuple[list[TensorRef], list[str]]:
    """Refs inferred from name patterns and shapes, and the names that stay unknown."""
    return [], [i.name for i in infos]
