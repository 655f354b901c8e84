"""Fingerprint files: one file, written under exactly the name given (``-o model.fp``).

The file is a safetensors file.  Its ``__metadata__`` comes first in the header and says
``"format": "heredity.fingerprint"``; its ``"document"`` entry is the JSON document (schema
``heredity.fingerprint/1``: source, spec, keys, per-layer std, hashes, params).  Its tensors are the
1-D vectors (F32, named by role key, e.g. ``attn_norm@3``) and the matching sketch (F16, named
``rows/<role key>``).  Any safetensors tool can list it; heredity recognises it by that first key,
whatever its name.

Earlier versions wrote a pair, ``NAME.json`` (the document, with ``"arrays": "NAME.safetensors"``) and
``NAME.safetensors`` (the arrays).  Pairs are still read: pass the ``.json``.  The ``.safetensors``
half alone is refused with a message naming the ``.json`` (see :func:`pair_document_of`).

No pickle anywhere.  Loading treats the file as hostile: the header is parsed by heredity's checked
safetensors parser, sizes are bounded, every key is parsed into a known role with bounded layer and
expert numbers, every spec field is type-checked, and each tensor's dtype and rank must be what its
name says.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from heredity import __version__
from heredity.checkpoint._paths import FINGERPRINT_MARKER
from heredity.errors import CorruptCheckpointError, InputError, NotFoundError, safe_name
from heredity.evidence.features import parse_role_key
from heredity.fingerprint.model import SCHEMA, Fingerprint
from heredity.layouts.model import ModelSpec
from heredity.layouts.roles import Role

FORMAT = "heredity.fingerprint"  # the first metadata entry of a fingerprint file
MAX_FILE_BYTES = 1 << 30
MAX_JSON_BYTES = 256 * 1024 * 1024  # old-style .json documents
MAX_VECTOR = 10_000_000
MAX_SKETCH = 50_000_000  # elements of one sketched matrix
MAX_INDEX = 1 << 20  # layer and expert numbers
ROWS_PREFIX = "rows/"
FIX = "re-create it with: heredity fingerprint MODEL -o NAME.fp"
_MAGIC = FINGERPRINT_MARKER  # the header's first bytes: __metadata__ first, format first in it
_SNIFF = 8 + len(_MAGIC)


# -- writing ------------------------------------------------------------------------------------


def document(fp: Fingerprint) -> dict[str, Any]:
    """The JSON document of ``fp`` (everything but its arrays)."""
    return {
        "schema": SCHEMA, "version": __version__, "source": fp.source, "params": fp.params,
        "spec": dataclasses.asdict(fp.spec), "keys": fp.keys,
        "std": {role: {str(k): v for k, v in d.items()} for role, d in fp.std.items()},
        "hashes": {k: list(v) for k, v in fp.hashes.items()},
    }


def save(fp: Fingerprint, path: str | os.PathLike[str]) -> Path:
    """Write ``fp`` to ``path`` (exactly that name) as one file; atomically: a temporary file in the
    same folder is renamed over ``path`` only once complete.  Returns the path."""
    from heredity.checkpoint.writers import save_safetensors

    path = Path(path)
    arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in fp.vectors.items()}
    arrays |= {ROWS_PREFIX + k: np.ascontiguousarray(v, dtype=np.float16) for k, v in fp.rows.items()}
    metadata = {"format": FORMAT, "document": json.dumps(document(fp), separators=(",", ":"))}
    try:
        import tempfile

        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror or exc}", path=path, fix="choose a writable path") from None
    try:
        save_safetensors(arrays, tmp, metadata=metadata)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror or exc}", path=path, fix="choose a writable path") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


# -- recognising --------------------------------------------------------------------------------


def _head(path: Path, n: int) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError:
        return b""


def is_fingerprint_file(path: Path) -> bool:
    """Cheap sniff on a regular file: a fingerprint file (by its first header bytes, any name), or
    the ``.json`` half of an old pair (by its schema)."""
    path = Path(path)
    if not path.is_file():
        return False
    if path.suffix == ".json":
        return b'"heredity.fingerprint/' in _head(path, 4096)
    return _head(path, _SNIFF)[8:] == _MAGIC


# -- reading ------------------------------------------------------------------------------------


def load(path: str | os.PathLike[str]) -> Fingerprint:
    """Read and validate a fingerprint file (or the ``.json`` of an old pair)."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError("fingerprint not found", path=path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CorruptCheckpointError(f"fingerprint is implausibly large ({size} bytes)", path=path, fix=FIX)
    if read_marker(path):
        return _load_single(path, size)
    if path.suffix == ".json":
        return _load_pair(path)
    raise CorruptCheckpointError(f"not a {FORMAT} file (its header does not start with the marker)",
                                     path=path, fix=FIX)


def _load_single(path: Path, size: int) -> Fingerprint:
    from heredity.checkpoint.safetensors_header import read_header

    with open(path, "rb") as f:
        header = read_header(f, size, path)
        text = header.metadata.get("document")
        if header.metadata.get("format") != FORMAT or text is None:
            raise CorruptCheckpointError(f"not a {FORMAT} file", path=path, fix=FIX)
        doc = _parse(text.encode("utf-8", errors="replace"), path)
        arrays: dict[str, np.ndarray] = {}
        for e in header.entries:
            sketch = e.name.startswith(ROWS_PREFIX)
            want = ("F16", 2, MAX_SKETCH) if sketch else ("F32", 1, MAX_VECTOR)
            numel = math.prod(e.shape)
            if (e.dtype, len(e.shape)) != want[:2] or numel > want[2]:
                raise CorruptCheckpointError(f"tensor '{_safe(e.name)}' is {e.dtype} {list(e.shape)}; a "
                                             f"{'sketch' if sketch else 'vector'} must be a bounded {want[1]}-D "
                                             f"{want[0]}", path=path, fix=FIX)
            f.seek(e.start)
            raw = f.read(e.stop - e.start)
            if len(raw) != e.stop - e.start:
                raise CorruptCheckpointError("file ended inside a tensor (truncated?)", path=path, fix=FIX)
            dtype = np.float16 if sketch else np.float32
            arrays[e.name] = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(e.shape)
    return _checked_build(doc, arrays, path)


def _load_pair(path: Path) -> Fingerprint:
    if path.stat().st_size > MAX_JSON_BYTES:
        raise CorruptCheckpointError("fingerprint JSON is implausibly large", path=path, fix=FIX)
    doc = _parse(path.read_bytes(), path)
    return _checked_build(doc, _side_arrays(doc, path), path)


def _parse(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CorruptCheckpointError(f"document is not valid JSON ({exc.__class__.__name__})", path=path,
                                     fix=FIX) from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise CorruptCheckpointError(f"not a {SCHEMA} file", path=path, fix=FIX)
    return doc


def _side_arrays(doc: dict[str, Any], path: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    name = doc.get("arrays")
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or "\0" in name or name.startswith("."):
        raise CorruptCheckpointError("side-file name escapes the fingerprint's folder", path=path, fix=FIX)
    side = path.parent / name
    if not side.is_file():
        raise NotFoundError(f"the array half {_safe(name)} of this old-style fingerprint pair is missing",
                            path=path, fix="keep the .safetensors beside the .json, or re-create the "
                            "fingerprint as one file with: heredity fingerprint MODEL -o NAME.fp")
    if side.stat().st_size > MAX_FILE_BYTES:
        raise CorruptCheckpointError("side file is implausibly large", path=side, fix=FIX)
    try:
        arrays = load_file(str(side))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CorruptCheckpointError(f"unreadable side file ({_safe(exc)})", path=side, fix=FIX) from None
    for k, v in arrays.items():
        sketch = k.startswith(ROWS_PREFIX)
        if sketch and (v.ndim != 2 or v.size > MAX_SKETCH):
            raise CorruptCheckpointError("side file holds a sketch that is not a bounded matrix", path=side, fix=FIX)
        if not sketch and (v.ndim != 1 or v.size > MAX_VECTOR):
            raise CorruptCheckpointError("side file holds a tensor that is not a vector", path=side, fix=FIX)
    return arrays


def _safe(x: object) -> str:
    return safe_name(x, 120)


# -- validation ---------------------------------------------------------------------------------

_INT_FIELDS = {f.name for f in dataclasses.fields(ModelSpec) if f.type in ("int", "int | None")}
_STR_FIELDS = {"family", "format"}
_BOOL_FIELDS = {"tied_embeddings", "inferred"}


def _checked_build(doc: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> Fingerprint:
    try:
        return _build(doc, arrays)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise CorruptCheckpointError(f"malformed fingerprint ({exc.__class__.__name__}: {_safe(exc)})",
                                     path=path, fix=FIX) from None


def _key(k: object) -> str:
    """A role key, checked: a known role, layer and expert numbers in range."""
    if not isinstance(k, str) or not k.isascii():
        raise ValueError(f"key {k!r} is not an ASCII string")
    _, layer, expert = parse_role_key(k)
    for n in (layer, expert):
        if n is not None and not 0 <= n < MAX_INDEX:
            raise ValueError(f"key {k!r} has an index out of range")
    return k


def _int(v: object, lo: int = 0, hi: int = 1 << 62) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"{v!r} is not an integer in {lo}..{hi}")
    return v


def _spec(d: object) -> ModelSpec:
    if not isinstance(d, dict):
        raise TypeError("spec is not an object")
    known = {f.name for f in dataclasses.fields(ModelSpec)}
    if not set(d) <= known:
        raise ValueError(f"unknown spec fields {sorted(set(d) - known)[:3]}")
    for name, value in d.items():
        if name in _STR_FIELDS and not isinstance(value, str):
            raise TypeError(f"spec.{name} is not a string")
        if name in _BOOL_FIELDS and not isinstance(value, bool):
            raise TypeError(f"spec.{name} is not a boolean")
        if name in _INT_FIELDS and (value is not None or name == "layers"):
            _int(value, 0, MAX_INDEX if name in ("layers", "experts", "expert_groups") else 1 << 40)
    notes = d.get("notes", ())
    if not isinstance(notes, list | tuple) or not all(isinstance(n, str) for n in notes):
        raise TypeError("spec.notes is not a list of strings")
    return ModelSpec(**{**d, "notes": tuple(notes)})


def _float(v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise TypeError(f"{v!r} is not a number")
    return float(v)


def _layer(k: object) -> int:
    if not isinstance(k, str) or not k.isascii() or not k.isdigit():
        raise ValueError(f"layer {k!r} is not a number")
    return _int(int(k), 0, MAX_INDEX)


def _hash(v: object) -> tuple[str, int, bool]:
    if not isinstance(v, list) or len(v) != 3 or not isinstance(v[0], str) or not isinstance(v[2], bool):
        raise ValueError("a hash entry is not [sha256, numel, constant]")
    return v[0], _int(v[1]), v[2]


def _quiet(v: np.ndarray) -> np.ndarray:
    """float32, with any signalling NaN bit pattern made a quiet NaN (numpy warns when it casts one)."""
    out = np.array(v, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        out[np.isnan(out)] = np.nan
    return out


def _build(doc: dict[str, Any], arrays: dict[str, np.ndarray]) -> Fingerprint:
    keys = [_key(k) for k in doc["keys"]]
    std = {Role(r).value: {_layer(k): _float(v) for k, v in d.items()} for r, d in doc["std"].items()}
    hashes = {_key(k): _hash(v) for k, v in doc["hashes"].items()}
    vectors = {_key(k): _quiet(v) for k, v in arrays.items() if not k.startswith(ROWS_PREFIX)}
    rows = {_key(k[len(ROWS_PREFIX):]): _quiet(v) for k, v in arrays.items() if k.startswith(ROWS_PREFIX)}
    params = doc.get("params")
    source = doc["source"]
    if not isinstance(source, str):
        raise TypeError("source is not a string")
    return Fingerprint(source=source, spec=_spec(doc["spec"]), keys=keys, vectors=vectors, std=std,
                       hashes=hashes, rows=rows, params=None if params is None else _int(params))


def read_marker(path: Path) -> bool:
    """True when ``path`` starts like a fingerprint file (used to refuse it where a checkpoint is wanted)."""
    return _head(path, _SNIFF)[8:] == _MAGIC

