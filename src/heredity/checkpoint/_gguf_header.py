"""A bounds-checked parser for the GGUF header: metadata scalars and tensor byte spans.

Why not ``gguf.GGUFReader``: it trusts every count and offset in the file (a truncated file fails
with assorted ``IndexError``/``ValueError``; a hostile array length of 2**60 zero-sized reads past
the end of the map loops for ever), and it turns every tokenizer string into its own numpy array
(13 s for Gemma 3's 262k-token vocabulary, against 0.3 s here).  This walk reads only header bytes,
checks every length against the bytes that remain and every tensor's data range against the file
size, keeps scalars and short arrays, and raises :class:`CorruptCheckpointError` naming the file.
It allocates nothing proportional to what the file claims.  Type tables still come from ``gguf``.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heredity.errors import CorruptCheckpointError, UnsupportedFormatError, safe_name

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_NAME = 1 << 16  # tensor names / keys longer than this are not real
MAX_ARRAY_DEPTH = 3
STRING, ARRAY = 8, 9
# GGUFValueType -> byte size of a scalar of that type (STRING and ARRAY are variable)
SCALAR_FORMAT = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
SCALAR_SIZE = {k: struct.calcsize(v) for k, v in SCALAR_FORMAT.items()}
MAX_ARRAY_ITEMS = 64  # longer arrays (tokenizer vocab, merges, scores) are skipped, not kept
MAX_STRING = 1000  # chat templates and licences are cut to this many characters
ALIGNMENT_KEY = "general.alignment"
DEFAULT_ALIGNMENT = 32
FIX = "the file is truncated or not a GGUF model; re-download or re-convert it"


@dataclass(frozen=True)
class TensorSpan:
    """Where one tensor's bytes lie, as the header says (validated against the file size)."""

    name: str
    ne: tuple[int, ...]  # ggml order: ne[0] is the fastest-varying (column) axis
    ggml_type: int
    start: int  # absolute file offset
    nbytes: int


@dataclass(frozen=True)
class GGUFHeader:
    """What the header says: kept metadata (key -> value) and every tensor's span, in file order."""

    metadata: dict[str, Any]
    spans: list[TensorSpan]
    alignment: int


class _Cursor:
    """Reads little-endian values from a byte buffer, refusing to read past its end."""

    def __init__(self, buf: mmap.mmap | bytes, path: Path) -> None:
        self.buf, self.pos, self.path = buf, 0, path

    def fail(self, what: str) -> CorruptCheckpointError:
        return CorruptCheckpointError(f"GGUF header: {what} (at byte {self.pos})", path=self.path, fix=FIX)

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise self.fail(f"needs {n} more bytes but the file ends at {len(self.buf)}")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return bytes(out)

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.take(8))[0])

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > len(self.buf):
            raise self.fail(f"a value of {n} bytes runs past the end of the file")
        self.pos += n

    def string(self, limit: int | None = None) -> bytes:
        n = self.u64()
        if limit is not None and n > limit:
            raise self.fail(f"a name of {n} bytes is longer than {limit}")
        return self.take(n)


class _Skipped:
    """Marker for a metadata value that was walked over but not kept (long arrays)."""


SKIPPED = _Skipped()


def _read_value(cur: _Cursor, vtype: int, keep: bool, depth: int = 0) -> Any:
    """Read (``keep``) or skip one metadata value; arrays are bounded before any loop."""
    if vtype in SCALAR_FORMAT:
        raw = cur.take(SCALAR_SIZE[vtype])
        return struct.unpack(SCALAR_FORMAT[vtype], raw)[0] if keep else SKIPPED
    if vtype == STRING:
        n = cur.u64()
        if not keep:
            cur.skip(n)
            return SKIPPED
        return cur.take(n).decode("utf-8", errors="replace")[:MAX_STRING]
    if vtype == ARRAY:
        return _read_array(cur, keep, depth)
    raise cur.fail(f"unknown metadata value type {vtype}")


def _read_array(cur: _Cursor, keep: bool, depth: int) -> Any:
    if depth >= MAX_ARRAY_DEPTH:
        raise cur.fail("metadata arrays nested too deep")
    itype, count = cur.u32(), cur.u64()
    keep = keep and count <= MAX_ARRAY_ITEMS and itype != ARRAY
    if itype in SCALAR_SIZE and not keep:
        cur.skip(count * SCALAR_SIZE[itype])
        return SKIPPED
    if itype not in SCALAR_SIZE and itype not in (STRING, ARRAY):
        raise cur.fail(f"unknown metadata array item type {itype}")
    remaining = len(cur.buf) - cur.pos
    if count * min(SCALAR_SIZE.get(itype, 8), 8) > remaining:  # strings and arrays cost >= 8 bytes
        raise cur.fail(f"an array of {count} items cannot fit in the {remaining} bytes left")
    if keep:
        return [_read_value(cur, itype, True, depth + 1) for _ in range(count)]
    for _ in range(count):
        _read_value(cur, itype, False, depth + 1)
    return SKIPPED


def _read_kv(cur: _Cursor, count: int) -> dict[str, Any]:
    """Walk ``count`` key/value pairs; keep scalars, strings and short arrays."""
    meta: dict[str, Any] = {}
    for _ in range(count):
        key = cur.string(MAX_NAME).decode("utf-8", errors="replace")
        value = _read_value(cur, cur.u32(), keep=True)
        if value is not SKIPPED:
            meta[key] = value
    return meta


def _alignment(cur: _Cursor, meta: dict[str, Any]) -> int:
    alignment = meta.get(ALIGNMENT_KEY, DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise cur.fail(f"alignment {safe_name(alignment)} is not a power of two")
    return alignment


def _read_tensor_info(cur: _Cursor) -> tuple[str, tuple[int, ...], int, int]:
    name = cur.string(MAX_NAME).decode("utf-8", errors="replace")
    n_dims = cur.u32()
    if not 1 <= n_dims <= MAX_DIMS:
        raise cur.fail(f"tensor '{safe_name(name)}' has {n_dims} dimensions")
    ne = tuple(cur.u64() for _ in range(n_dims))
    return name, ne, cur.u32(), cur.u64()


def _span(cur: _Cursor, info: tuple[str, tuple[int, ...], int, int], data_start: int) -> TensorSpan:
    """Check one tensor's type, shape and byte range against the file size."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    name, ne, raw_type, offset = info
    try:
        block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(raw_type)]
    except (ValueError, KeyError):
        raise cur.fail(f"tensor '{safe_name(name)}' has unknown ggml type {raw_type}") from None
    numel = 1
    for d in ne:
        numel *= d
    if ne[0] % block:
        raise cur.fail(f"tensor '{safe_name(name)}' row of {ne[0]} is not whole blocks of {block}")
    nbytes = numel // block * type_size
    start = data_start + offset
    if start + nbytes > len(cur.buf):
        raise cur.fail(f"tensor '{safe_name(name)}' data [{start}, {start + nbytes}) lies past the end")
    return TensorSpan(name, ne, raw_type, start, nbytes)


def _check_preamble(cur: _Cursor) -> tuple[int, int]:
    magic = cur.take(4) if len(cur.buf) >= 4 else b""
    if magic != MAGIC:
        raise UnsupportedFormatError("not a GGUF file (bad magic)", path=cur.path, fix=FIX)
    version = cur.u32()
    if version not in SUPPORTED_VERSIONS:
        hint = "big-endian GGUF files are not supported" if version > 0xFFFF else f"version {version}"
        raise UnsupportedFormatError(f"unsupported GGUF {hint}", path=cur.path, fix="convert it to GGUF v3")
    n_tensors, n_kv = cur.u64(), cur.u64()
    if (n_tensors + n_kv) * 8 > len(cur.buf):
        raise cur.fail(f"claims {n_tensors} tensors and {n_kv} keys, more than the file can hold")
    return n_tensors, n_kv


def scan_header(path: Path) -> GGUFHeader:
    """Validate a GGUF file's header; return its kept metadata and every tensor's byte span."""
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        if size < 24:
            raise CorruptCheckpointError(f"GGUF file of {size} bytes is too short", path=path, fix=FIX)
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _scan(_Cursor(buf, path))


def _scan(cur: _Cursor) -> GGUFHeader:
    n_tensors, n_kv = _check_preamble(cur)
    meta = _read_kv(cur, n_kv)
    alignment = _alignment(cur, meta)
    infos = [_read_tensor_info(cur) for _ in range(n_tensors)]
    data_start = -(-cur.pos // alignment) * alignment
    spans = [_span(cur, info, data_start) for info in infos]
    names = [s.name for s in spans]
    if len(set(names)) != len(names):
        raise cur.fail("two tensors share one name")
    return GGUFHeader(meta, spans, alignment)
