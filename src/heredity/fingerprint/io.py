"""Fingerprint files: ``NAME.json`` (schema ``heredity.fingerprint/1``) + ``NAME.safetensors`` (vectors).

No pickle anywhere.  Loading treats the files as hostile: bounded sizes, the schema checked, every key
parsed into a known role, the side file only ever looked up beside the JSON under its own name.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from heredity import __version__
from heredity.errors import CorruptCheckpointError, NotFoundError
from heredity.evidence.features import parse_role_key
from heredity.fingerprint.model import SCHEMA, Fingerprint
from heredity.layouts.model import ModelSpec

MAX_JSON_BYTES = 256 * 1024 * 1024
MAX_VECTOR = 10_000_000
MAX_SKETCH = 50_000_000  # elements of one sketched matrix
ROWS_PREFIX = "rows/"
FIX = "re-create it with: heredity fingerprint MODEL -o FP.json"


def save(fp: Fingerprint, path: str | Path) -> Path:
    """Write ``path`` (.json) and its ``.safetensors`` side file; returns the JSON path."""
    from safetensors.numpy import save_file

    path = Path(path)
    if path.suffix != ".json":
        path = path.with_suffix(".json")
    side = path.with_suffix(".safetensors")
    arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in fp.vectors.items()}
    arrays |= {ROWS_PREFIX + k: np.ascontiguousarray(v, dtype=np.float16) for k, v in fp.rows.items()}
    save_file(arrays, str(side))
    doc = {
        "schema": SCHEMA, "version": __version__, "source": fp.source, "params": fp.params,
        "spec": dataclasses.asdict(fp.spec), "keys": fp.keys, "arrays": side.name,
        "std": {role: {str(k): v for k, v in d.items()} for role, d in fp.std.items()},
        "hashes": {k: list(v) for k, v in fp.hashes.items()},
    }
    path.write_text(json.dumps(doc, indent=1))
    return path


def is_fingerprint_file(path: Path) -> bool:
    """Cheap sniff: a .json file whose first bytes name our schema."""
    if path.suffix != ".json" or not path.is_file():
        return False
    with path.open("rb") as fh:
        return b'"heredity.fingerprint/' in fh.read(4096)


def load(path: str | Path) -> Fingerprint:
    """Read and validate a fingerprint written by :func:`save`."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError("fingerprint not found", path=path)
    if path.stat().st_size > MAX_JSON_BYTES:
        raise CorruptCheckpointError("fingerprint JSON is implausibly large", path=path, fix=FIX)
    try:
        doc = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptCheckpointError(f"not valid JSON ({exc.__class__.__name__})", path=path, fix=FIX) from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise CorruptCheckpointError(f"not a {SCHEMA} file", path=path, fix=FIX)
    try:
        return _build(doc, path)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptCheckpointError(f"malformed fingerprint ({exc.__class__.__name__})", path=path, fix=FIX) from None


def _build(doc: dict[str, Any], path: Path) -> Fingerprint:
    keys = [str(k) for k in doc["keys"]]
    for k in keys:
        parse_role_key(k)
    spec_doc = dict(doc["spec"])
    spec_doc["notes"] = tuple(spec_doc.get("notes", ()))
    spec = ModelSpec(**spec_doc)
    std = {str(r): {int(k): float(v) for k, v in d.items()} for r, d in doc["std"].items()}
    hashes = {str(k): (str(v[0]), int(v[1]), bool(v[2])) for k, v in doc["hashes"].items()}
    arrays = _arrays(doc, path)
    vectors = {k: v for k, v in arrays.items() if not k.startswith(ROWS_PREFIX)}
    rows = {k[len(ROWS_PREFIX):]: v for k, v in arrays.items() if k.startswith(ROWS_PREFIX)}
    return Fingerprint(source=str(doc["source"]), spec=spec, keys=keys, vectors=vectors, std=std,
                       hashes=hashes, rows=rows, params=doc.get("params"))


def _arrays(doc: dict[str, Any], path: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    name = str(doc["arrays"])
    if "/" in name or "\\" in name or name.startswith("."):
        raise CorruptCheckpointError("side-file name escapes the fingerprint's folder", path=path, fix=FIX)
    side = path.parent / name
    if not side.is_file():
        raise NotFoundError(f"side file {name} missing", path=path, fix="keep the .safetensors beside the .json")
    try:
        arrays = load_file(str(side))
    except (SafetensorError, OSError) as exc:
        raise CorruptCheckpointError(f"unreadable side file ({exc})", path=side, fix=FIX) from None
    for k, v in arrays.items():
        sketch = k.startswith(ROWS_PREFIX)
        parse_role_key(k[len(ROWS_PREFIX):] if sketch else k)
        if sketch and (v.ndim != 2 or v.size > MAX_SKETCH):
            raise CorruptCheckpointError("side file holds a sketch that is not a bounded matrix", path=side, fix=FIX)
        if not sketch and (v.ndim != 1 or v.size > MAX_VECTOR):
            raise CorruptCheckpointError("side file holds a tensor that is not a vector", path=side, fix=FIX)
    return {k: v.astype(np.float32) for k, v in arrays.items()}
