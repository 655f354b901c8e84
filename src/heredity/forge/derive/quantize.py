"""Quantisation to GGUF: the derived model is the file llama.cpp users would publish."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from heredity.forge.derive.names import Arrays


def quantize(arrays: Arrays, config: dict[str, Any], path: str | Path, qtype: str = "Q8_0") -> Path:
    """Write ``arrays`` as a GGUF file of ``qtype`` (F32, F16, Q8_0, Q4_0, ...) at ``path``."""
    from heredity.checkpoint.gguf_writer import save_gguf

    return save_gguf(arrays, config, path, qtype)
