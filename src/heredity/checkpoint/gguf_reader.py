"""GGUF files (llama.cpp): memory-mapped inventory, one tensor dequantised per ``read``.

The header is first walked with bounds checks (:mod:`._gguf_header`), then handed to
``gguf.GGUFReader``, whose tensors are views into a read-only memory map: nothing is read until a
tensor is asked for.  Shapes are reported in numpy order (``[rows, cols]``, i.e. ggml ``ne``
reversed); ``dtype`` is the ggml type name (``Q4_K``, ``F16``...).  q/k rows of llama-family
models stay in llama.cpp's permuted order; ``config["gguf_qk_permuted"]`` says so and the layouts
layer undoes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from heredity.checkpoint._gguf_config import scalar_metadata, synthesise_config
from heredity.checkpoint._gguf_header import FIX, TensorSpan, scan_header
from heredity.checkpoint.base import Checkpoint, TensorInfo
from heredity.errors import (
    CorruptCheckpointError,
    InputError,
    NotFoundError,
    UnsupportedFormatError,
    require,
    safe_name,
)

PLAIN_TYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I8": np.int8, "I16": np.int16,
               "I32": np.int32, "I64": np.int64}  # fmt: skip


class GGUFCheckpoint(Checkpoint):
    """One ``.gguf`` file.  ``read`` dequantises a single tensor (or some of its rows)."""

    def __init__(self, path: Path, reader: Any, spans: list[TensorSpan]) -> None:
        self.source = str(path)
        self.format = "gguf"
        self.warnings = []
        self._reader: Any = reader
        self._data = {t.name: t for t in reader.tensors}
        self._tensors = {s.name: _info(s, path) for s in spans}
        meta = scalar_metadata(reader.fields)
        self.config = synthesise_config(meta, {k: v.shape for k, v in self._tensors.items()})

    @property
    def tensors(self) -> Mapping[str, TensorInfo]:
        return self._tensors

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        info = self.info(name)
        if self._reader is None:
            raise InputError("read after close", path=self.source, fix="open the checkpoint again")
        raw = self._data[name].data  # memory-mapped; [rows, ...] with quantised rows as bytes
        if rows is not None:
            raw = raw[rows]  # quantised blocks never span rows, so a row slice is whole blocks
        try:
            out = _dequantise(np.asarray(raw), info.dtype)
        except (ValueError, NotImplementedError) as exc:
            raise UnsupportedFormatError(
                f"cannot dequantise '{safe_name(name)}' of type {info.dtype}: {safe_name(exc)}",
                path=self.source,
                fix="upgrade the 'gguf' package or re-quantise to a common type",
            ) from None
        shape = info.shape if rows is None else (raw.shape[0], *info.shape[1:])
        return np.ascontiguousarray(out.reshape(shape), dtype=np.float32)

    def close(self) -> None:
        self._reader = None
        self._data = {}


def _info(span: TensorSpan, path: Path) -> TensorInfo:
    from gguf.constants import GGMLQuantizationType

    dtype = GGMLQuantizationType(span.ggml_type).name
    return TensorInfo(span.name, tuple(reversed(span.ne)), dtype, span.nbytes, file=path.name)


def _dequantise(raw: np.ndarray, dtype: str) -> np.ndarray:
    from gguf.constants import GGMLQuantizationType
    from gguf.quants import dequantize

    if dtype in PLAIN_TYPES:
        return raw.astype(np.float32)
    return dequantize(raw.view(np.uint8), GGMLQuantizationType[dtype])


def open_gguf(path: str | Path) -> GGUFCheckpoint:
    """Open a GGUF file lazily; raise :class:`CorruptCheckpointError` for any damaged header."""
    p = Path(path)
    if not p.is_file():
        raise NotFoundError("no such GGUF file", path=p, fix="check the path")
    require("gguf", "gguf", "reading GGUF files")
    spans = scan_header(p)
    try:
        from gguf import GGUFReader

        reader = GGUFReader(p, "r")
    except (ValueError, KeyError, IndexError, OverflowError, UnicodeDecodeError) as exc:
        raise CorruptCheckpointError(f"GGUF reader failed: {safe_name(exc)}", path=p, fix=FIX) from None
    return GGUFCheckpoint(p, reader, spans)
