"""A fingerprint as two byte strings (a JSON document and a safetensors blob of its arrays), and its key.

The registry stores fingerprints in memory form, independent of how ``heredity fingerprint`` lays
them out on disk.  The **key** is the sha256 of the content: the canonical JSON of everything but the
source (so one model found under two paths is one entry), then every array's name, dtype, shape and
bytes in sorted order.  Decoding treats the bytes as hostile (a database or an export file may have
been edited): sizes are bounded, every key is parsed into a known role, and the key is recomputed and
checked against the stored one by :func:`decode` when asked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import numpy as np

from heredity.errors import CorruptCheckpointError
from heredity.evidence.features import parse_role_key
from heredity.fingerprint.model import SCHEMA, Fingerprint
from heredity.layouts.model import ModelSpec

MAX_DOC_BYTES = 256 * 1024 * 1024
MAX_ARRAYS_BYTES = 2 * 1024 * 1024 * 1024
MAX_VECTOR = 10_000_000
MAX_SKETCH = 50_000_000
ROWS_PREFIX = "rows/"
FIX = "remove the entry and add the model again (heredity registry remove NAME; heredity registry add MODEL)"


def encode(fp: Fingerprint) -> tuple[bytes, bytes]:
    """``(doc, arrays)``: the fingerprint's JSON document (without its source) and its arrays."""
    from safetensors.numpy import save

    doc = {
        "schema": SCHEMA, "params": fp.params, "spec": dataclasses.asdict(fp.spec), "keys": list(fp.keys),
        "std": {role: {str(k): float(v) for k, v in sorted(d.items())} for role, d in sorted(fp.std.items())},
        "hashes": {k: list(v) for k, v in sorted(fp.hashes.items())},
    }
    arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in fp.vectors.items()}
    arrays |= {ROWS_PREFIX + k: np.ascontiguousarray(v, dtype=np.float16) for k, v in fp.rows.items()}
    blob = save(arrays) if arrays else b""
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode(), blob


def content_key(doc: bytes, arrays: bytes) -> str:
    """sha256 over the canonical document and the arrays (names, dtypes, shapes, bytes; sorted).

    The checkpoint format, the layout's notes and the storage order of the tensors are left out, so one
    model stored as safetensors, PyTorch or llama2.c files (identical canonical tensors) has one key."""
    h = hashlib.sha256(b"heredity.registry.entry/1\0")
    canonical = _keyed_doc(doc)
    h.update(len(canonical).to_bytes(8, "little") + canonical)
    for name, arr in sorted(_load_arrays(arrays).items()):
        h.update(f"{name}\0{arr.dtype.str}\0{arr.shape}\0".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _keyed_doc(doc: bytes) -> bytes:
    try:
        parsed = json.loads(doc)
        spec = dict(parsed["spec"])
        keys = sorted(str(k) for k in parsed["keys"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return doc  # malformed: hashed as is (decode refuses it anyway)
    for unkeyed in ("format", "notes"):
        spec.pop(unkeyed, None)
    return json.dumps({**parsed, "spec": spec, "keys": keys}, sort_keys=True, separators=(",", ":")).encode()


def decode(doc: bytes, arrays: bytes, source: str, *, expect_key: str | None = None) -> Fingerprint:
    """Rebuild the :class:`Fingerprint`; with ``expect_key``, refuse bytes whose key differs."""
    if len(doc) > MAX_DOC_BYTES or len(arrays) > MAX_ARRAYS_BYTES:
        raise CorruptCheckpointError("registry entry is implausibly large", path=source, fix=FIX)
    if expect_key is not None and content_key(doc, arrays) != expect_key:
        raise CorruptCheckpointError("registry entry does not match its content key (edited or damaged)",
                                     path=source, fix=FIX)
    try:
        parsed = json.loads(doc)
        if not isinstance(parsed, dict) or parsed.get("schema") != SCHEMA:
            raise ValueError("schema")
        return _build(parsed, _checked_arrays(arrays), source)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, UnicodeDecodeError) as exc:
        raise CorruptCheckpointError(f"malformed registry entry ({exc.__class__.__name__})", path=source,
                                     fix=FIX) from None


def _build(doc: dict[str, Any], arrays: dict[str, np.ndarray], source: str) -> Fingerprint:
    keys = [str(k) for k in doc["keys"]]
    for k in keys:
        parse_role_key(k)
    spec_doc = dict(doc["spec"])
    spec_doc["notes"] = tuple(spec_doc.get("notes", ()))
    spec = ModelSpec(**spec_doc)
    std = {str(r): {int(k): float(v) for k, v in d.items()} for r, d in doc["std"].items()}
    hashes = {str(k): (str(v[0]), int(v[1]), bool(v[2])) for k, v in doc["hashes"].items()}
    vectors = {k: v for k, v in arrays.items() if not k.startswith(ROWS_PREFIX)}
    rows = {k[len(ROWS_PREFIX):]: v for k, v in arrays.items() if k.startswith(ROWS_PREFIX)}
    params = doc.get("params")
    return Fingerprint(source=source, spec=spec, keys=keys, vectors=vectors, std=std, hashes=hashes, rows=rows,
                       params=None if params is None else int(params))


def _load_arrays(blob: bytes) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load

    if not blob:
        return {}
    try:
        return load(blob)
    except (SafetensorError, ValueError, OSError) as exc:
        raise ValueError(f"arrays blob unreadable: {exc}") from None


def _checked_arrays(blob: bytes) -> dict[str, np.ndarray]:
    out = {}
    for k, v in _load_arrays(blob).items():
        sketch = k.startswith(ROWS_PREFIX)
        parse_role_key(k[len(ROWS_PREFIX):] if sketch else k)
        if sketch and (v.ndim != 2 or v.size > MAX_SKETCH):
            raise ValueError(f"sketch {k} is not a bounded matrix")
        if not sketch and (v.ndim != 1 or v.size > MAX_VECTOR):
            raise ValueError(f"vector {k} is not a bounded vector")
        out[k] = v.astype(np.float32)
    return out
