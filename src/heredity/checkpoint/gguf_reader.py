"""GGUF files (llama.cpp): memory-mapped inventory, one tensor dequantised per ``read``.

The header is parsed with bounds checks by :mod:`._gguf_header` (``gguf.GGUFReader`` is neither
safe on hostile files nor fast on large vocabularies; see there).  Tensor bytes are views into one
read-only ``numpy.memmap``: nothing is read until a tensor is asked for, and ``rows=`` touches only
those rows' blocks (a GGUF block never spans two rows).  Dequantisation is the ``gguf`` package's
``gguf.quants.dequantize``, so every type it supports is read.

Shapes are reported in numpy order (``[rows, cols]``, i.e. ggml ``ne`` reversed); ``dtype`` is the
ggml type name (``Q4_K``, ``F16``...).  q/k rows of llama-family models stay in llama.cpp's
permuted order: ``config["gguf_qk_permuted"]`` says so and the layouts layer undoes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from heredity.checkpoint._gguf_config import synthesise_config
from heredity.checkpoint._gguf_header import TensorSpan, scan_header
from heredity.checkpoint.base import Checkpoint, TensorInfo
from heredity.checkpoint.scan import note_nonfinite
from heredity.errors import InputError, NotFoundError, UnsupportedFormatError, require, safe_name

# ggml types stored as plain numpy scalars; every other type is blocks of bytes for gguf.quants
PLAIN_TYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I8": np.int8, "I16": np.int16,
               "I32": np.int32, "I64": np.int64}  # fmt: skip


class GGUFCheckpoint(Checkpoint):
    """One ``.gguf`` file.  ``read`` dequantises a single tensor (or some of its rows)."""

    def __init__(self, path: Path, metadata: dict[str, Any], spans: list[TensorSpan]) -> None:
        self.source = str(path)
        self.format = "gguf"
        self.warnings = []
        self._map: np.memmap | None = np.memmap(path, dtype=np.uint8, mode="r")
        self._spans = {s.name: s for s in spans}
        self._tensors = {s.name: _info(s, path) for s in spans}
        self.config = synthesise_config(metadata, {k: v.shape for k, v in self._tensors.items()})

    @property
    def tensors(self) -> Mapping[str, TensorInfo]:
        return self._tensors

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        info = self.info(name)
        raw = self._raw(name, info)
        if rows is not None:
            raw = raw[rows]
        try:
            out = _dequantise(np.asarray(raw), info.dtype)
        except (ValueError, NotImplementedError, KeyError) as exc:
            raise UnsupportedFormatError(
                f"cannot dequantise '{safe_name(name)}' of type {info.dtype}: {safe_name(exc)}",
                path=self.source,
                fix="upgrade the 'gguf' package or re-quantise to a common type",
            ) from None
        result = np.ascontiguousarray(out.reshape((raw.shape[0], *info.shape[1:])), dtype=np.float32)
        note_nonfinite(self, name, result)
        return result

    def _raw(self, name: str, info: TensorInfo) -> np.ndarray:
        """The stored bytes of one tensor as a view shaped ``[rows, ..., row bytes or items]``."""
        if self._map is None:
            raise InputError("read after close", path=self.source, fix="open the checkpoint again")
        span = self._spans[name]
        flat = self._map[span.start : span.start + span.nbytes]
        if info.dtype not in PLAIN_TYPES and flat.size == 0:
            raise InputError(f"quantised tensor '{safe_name(name)}' holds no elements", path=self.source)
        try:
            if info.dtype in PLAIN_TYPES:
                return flat.view(PLAIN_TYPES[info.dtype]).reshape(info.shape)
            return flat.reshape((*info.shape[:-1], -1))  # each row is whole quantisation blocks
        except ValueError:  # e.g. a zero dimension beside one beyond numpy's limits
            raise InputError(f"tensor '{safe_name(name)}' has an impossible shape {info.shape}",
                             path=self.source) from None

    def close(self) -> None:
        self._map = None


def _info(span: TensorSpan, path: Path) -> TensorInfo:
    from gguf.constants import GGMLQuantizationType

    dtype = GGMLQuantizationType(span.ggml_type).name
    return TensorInfo(span.name, tuple(reversed(span.ne)), dtype, span.nbytes, file=path.name)


def _dequantise(raw: np.ndarray, dtype: str) -> np.ndarray:
    from gguf.constants import GGMLQuantizationType
    from gguf.quants import dequantize

    if dtype in PLAIN_TYPES:
        return raw.astype(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/Inf scales are data, reported by the scan
        return dequantize(raw, GGMLQuantizationType[dtype])


def open_gguf(path: str | Path) -> GGUFCheckpoint:
    """Open a GGUF file lazily; a damaged header raises :class:`CorruptCheckpointError`."""
    p = Path(path)
    if not p.is_file():
        raise NotFoundError("no such GGUF file", path=p, fix="check the path")
    require("gguf", "gguf", "reading GGUF files")
    header = scan_header(p)
    return GGUFCheckpoint(p, header.metadata, header.spans)
