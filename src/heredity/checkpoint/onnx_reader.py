"""ONNX models: the graph's initialisers as a checkpoint (extra ``onnx``).

The model proto is parsed without external data; initialisers stored in external files are read
on demand (``rows=`` reads only those rows' bytes), after checking that their paths stay inside
the model's folder and their byte ranges inside the file.  Inline initialisers are already in
the parsed proto.  Each initialiser is followed through the graph (:mod:`heredity.checkpoint.onnx_graph`):
quantised weights (``DequantizeLinear``, ``Cast`` + ``Mul`` by a scale, integer matmuls) are exposed
once, dequantised to float32, their scales and zero points hidden; anonymous ones (``onnx::MatMul_12``,
``val_49``) are named from their bias or their place in the graph (:mod:`heredity.checkpoint.onnx_structure`)
and exposed ``[out, in]``.  ``ONNXCheckpoint.renamed`` keeps every stored name; ``skipped`` lists the
scalar constants that are not exposed.  A ``config.json`` next to the file (Optimum exports) becomes
the config.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

from heredity.checkpoint.base import Checkpoint, TensorInfo
from heredity.checkpoint.onnx_graph import Graph, Plan, Quant, graph_from_proto, plan, small_ints
from heredity.checkpoint.onnx_structure import attention_heads, name_by_structure
from heredity.checkpoint.scan import note_nonfinite
from heredity.errors import (
    CorruptCheckpointError,
    InputError,
    NotFoundError,
    UnsafeCheckpointError,
    UnsupportedFormatError,
    require,
    safe_name,
)

# TensorProto data type -> (name, numpy dtype); other types (strings, bools, int64 ids) are skipped
DTYPES: dict[int, tuple[str, Any]] = {
    1: ("float32", np.float32),
    2: ("uint8", np.uint8),
    3: ("int8", np.int8),
    10: ("float16", np.float16),
    11: ("float64", np.float64),
    16: ("bfloat16", ml_dtypes.bfloat16),
}
EXTERNAL = 1  # TensorProto.EXTERNAL
MAX_CONFIG_BYTES = 1 << 20
FIX = "re-export the model, or convert it to safetensors"
MAX_NODES = 1 << 22  # nodes analysed for roles (a graph beyond that keeps its stored names past it)


@dataclass(frozen=True)
class _Stored:
    """Where one initialiser's bytes are: inline in the proto, or a range of an external file."""

    shape: tuple[int, ...]
    dtype: Any
    proto: Any  # onnx.TensorProto
    file: Path | None = None
    offset: int = 0


class ONNXCheckpoint(Checkpoint):
    """Initialisers of one ``.onnx`` graph, named and dequantised by :mod:`heredity.checkpoint.onnx_graph`.

    ``renamed`` maps each exposed name the graph gave to the initialiser it was stored as, with how it
    was found (``bias``, ``own``, ``value``, ``structure``), so users see what was renamed and why.
    """

    def __init__(self, path: Path, stored: dict[str, _Stored], exposed: Plan) -> None:
        self.source = str(path)
        self.format = "onnx"
        self.warnings = []
        self.config = _config_next_to(path, self.warnings)
        self._stored, self._named = stored, exposed.named
        self._tensors = {n: _info(n, stored[e.traced.values], path, e.transpose) for n, e in exposed.named.items()}
        self.renamed: dict[str, tuple[str, str]] = {
            n: (e.traced.values, e.how) for n, e in exposed.named.items() if n != e.traced.values
        }  # exposed name -> (stored name, how the name was found: bias, own, value, structure)
        self.skipped: dict[str, str] = dict(exposed.skipped)  # stored name -> why it is not exposed
        self.parts: dict[str, str] = {  # scale / zero-point initialiser -> the tensor it dequantises
            part: n for n, e in exposed.named.items() if e.traced.quant for part in (e.traced.quant.scale, e.traced.quant.zero)
            if part
        }

    @property
    def tensors(self) -> Mapping[str, TensorInfo]:
        return self._tensors

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        info = self.info(name)
        if rows is not None and not info.shape:
            raise InputError(f"tensor '{safe_name(name)}' is a scalar: it has no rows", path=self.source)
        e = self._named[name]
        q, whole = e.traced.quant, e.transpose
        values = self._raw(e.traced.values, None if whole else rows)
        if q is None:
            out = np.asarray(values, dtype=np.float32)
        else:
            out = self._dequantised(values, q, None if whole else rows)
        if whole:
            out = out.T if rows is None else out.T[rows]
        out = np.ascontiguousarray(out, dtype=np.float32) if out.ndim else np.asarray(out, np.float32)
        note_nonfinite(self, name, out)
        return out

    def _raw(self, name: str, rows: slice | None) -> np.ndarray:
        s = self._stored[name]
        if s.file is None:
            from onnx import numpy_helper

            try:
                a = np.asarray(numpy_helper.to_array(s.proto)).reshape(s.shape)
            except (ValueError, TypeError):  # typed data fields whose count does not fit the dims
                raise CorruptCheckpointError(f"initialiser '{safe_name(name)}' holds data that does not fit its "
                                             f"shape {s.shape}", path=self.source, fix=FIX) from None
            return a if rows is None else a[rows]
        return _read_external(s, rows)

    def _part(self, name: str, shape: tuple[int, ...], rows: slice | None) -> np.ndarray:
        """A scale or zero point reshaped to broadcast onto the values (sizes checked by the plan)."""
        a = self._raw(name, None).astype(np.float32).reshape(shape)
        return a[rows] if rows is not None and a.ndim and a.shape[0] > 1 else a

    def _dequantised(self, values: np.ndarray, q: Quant, rows: slice | None) -> np.ndarray:
        scale = self._part(q.scale, q.scale_shape, rows)
        zero = self._part(q.zero, q.zero_shape, rows) if q.zero else np.float32(0)
        with np.errstate(over="ignore", invalid="ignore"):  # inf/NaN scales are data, reported by the scan
            return np.asarray((values.astype(np.float32) - zero) * scale, dtype=np.float32)


def _info(name: str, s: _Stored, path: Path, transpose: bool) -> TensorInfo:
    itemsize = np.dtype(s.dtype).itemsize
    n = int(np.prod(s.shape, dtype=np.int64))
    file = s.file.name if s.file is not None else path.name
    shape = s.shape[::-1] if transpose else s.shape
    return TensorInfo(name, shape, np.dtype(s.dtype).name, n * itemsize, file=file)


def _read_external(s: _Stored, rows: slice | None) -> np.ndarray:
    """Read an external initialiser (or only some of its rows) with one seek and one read."""
    assert s.file is not None
    first, count = 0, (s.shape[0] if s.shape else 1)
    if rows is not None and s.shape:
        first, stop, step = rows.indices(s.shape[0])
        if step != 1:
            return _read_external(s, None)[rows]
        count = max(stop - first, 0)
    row_items = int(np.prod(s.shape[1:], dtype=np.int64)) if s.shape else 1
    itemsize = np.dtype(s.dtype).itemsize
    with open(s.file, "rb") as f:
        f.seek(s.offset + first * row_items * itemsize)
        blob = f.read(count * row_items * itemsize)
    shape = (count, *s.shape[1:]) if s.shape else ()
    return np.frombuffer(blob, dtype=s.dtype).reshape(shape)


def _config_next_to(path: Path, warnings: list[str]) -> dict[str, Any]:
    cfg = path.with_name("config.json")
    if not cfg.is_file() or cfg.stat().st_size > MAX_CONFIG_BYTES:
        return {}
    try:
        loaded = json.loads(cfg.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        warnings.append("config.json next to the ONNX file is not valid JSON; ignored")
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _external_location(proto: Any, folder: Path, path: Path) -> tuple[Path, int, int | None]:
    """The (file, offset, length) of an external initialiser; the file must stay inside ``folder``."""
    entries = {e.key: e.value for e in proto.external_data}
    location = entries.get("location", "")
    if not isinstance(location, str):  # a string field that is not valid UTF-8 comes back as bytes
        raise CorruptCheckpointError(f"external data location of '{safe_name(proto.name)}' is not text",
                                     path=path, fix=FIX)
    target = (folder / location.replace("\0", "?")).resolve()
    if not location or "\0" in location or Path(location).is_absolute() or not target.is_relative_to(folder.resolve()):
        raise UnsafeCheckpointError(
            f"initialiser '{safe_name(proto.name)}' points outside the model folder: {safe_name(location)}",
            path=path,
            fix="move the external data file next to the .onnx file",
        )
    try:
        offset = int(entries.get("offset", 0))
        length = int(entries["length"]) if "length" in entries else None
    except ValueError:
        raise CorruptCheckpointError(
            f"bad external offset of '{safe_name(proto.name)}'", path=path, fix=FIX
        ) from None
    return target, offset, length


def _stored(proto: Any, folder: Path, path: Path) -> _Stored | None:
    """Validate one initialiser (shape, byte count, external range); None for non-float/int8 types."""
    if proto.data_type not in DTYPES:
        return None
    dtype = DTYPES[proto.data_type][1]
    shape = tuple(int(d) for d in proto.dims)
    if any(d < 0 for d in shape):
        raise CorruptCheckpointError(
            f"initialiser '{safe_name(proto.name)}' has shape {shape}", path=path, fix=FIX
        )
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if proto.data_location != EXTERNAL:
        if proto.raw_data and len(proto.raw_data) != nbytes:
            raise CorruptCheckpointError(
                f"initialiser '{safe_name(proto.name)}' holds {len(proto.raw_data)} bytes, shape needs {nbytes}",
                path=path,
                fix=FIX,
            )
        return _Stored(shape, dtype, proto)
    file, offset, length = _external_location(proto, folder, path)
    size = file.stat().st_size if file.is_file() else -1
    if (length is not None and length != nbytes) or offset < 0 or offset + nbytes > size:
        raise CorruptCheckpointError(
            f"external data of '{safe_name(proto.name)}' is missing or out of range in {safe_name(file.name)}",
            path=path,
            fix="copy the external data file next to the .onnx file",
        )
    return _Stored(shape, dtype, proto, file, offset)


def open_onnx(path: str | Path) -> ONNXCheckpoint:
    """Open an ``.onnx`` file; external data is validated now and read only when asked for."""
    p = Path(path)
    if not p.is_file():
        raise NotFoundError("no such ONNX file", path=p, fix="check the path")
    onnx = require("onnx", "onnx", "reading ONNX models")
    try:
        model = onnx.load(str(p), load_external_data=False)  # type: ignore[attr-defined]
    except Exception as exc:  # protobuf raises DecodeError and assorted RuntimeErrors
        raise CorruptCheckpointError(
            f"not a readable ONNX model: {safe_name(exc)}", path=p, fix=FIX
        ) from None
    stored = {}
    for proto in model.graph.initializer:
        if not isinstance(proto.name, str):  # a name that is not valid UTF-8 comes back as bytes
            raise CorruptCheckpointError("an initialiser's name is not text", path=p, fix=FIX)
        s = _stored(proto, p.parent, p)
        if s is not None:
            stored[proto.name] = s
    if not stored:
        raise UnsupportedFormatError("the ONNX graph has no float or int8 initialisers", path=p, fix=FIX)
    nodes = graph_from_proto(model.graph, MAX_NODES)
    inits = {n: (s.shape, np.dtype(s.dtype).name) for n, s in stored.items()}
    graph = Graph(nodes, inits, small_ints(model.graph) if len(nodes) < MAX_NODES else {})
    exposed = plan(graph, name_by_structure)
    ck = ONNXCheckpoint(p, stored, exposed)
    _heads_into_config(ck, graph, exposed)
    return ck


def _heads_into_config(ck: ONNXCheckpoint, graph: Graph, exposed: Plan) -> None:
    """Attention head counts the graph shows (the reshape of q and k into heads), where the config
    next to the file does not give them."""
    if any(k in ck.config for k in ("num_attention_heads", "n_head", "n_heads")):
        return
    found = attention_heads(graph, {e.traced.values: e.traced for e in exposed.named.values()})
    if found is not None:
        ck.config.update(num_attention_heads=found.heads, num_key_value_heads=found.kv_heads,
                         head_dim=found.head_dim)  # fmt: skip
        ck.warnings.append(f"attention heads read from the ONNX graph: {found.heads} heads "
                           f"({found.kv_heads} key/value) of {found.head_dim}")  # fmt: skip
