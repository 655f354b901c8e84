"""A bounds-checked walk over a GGUF header, run before ``gguf.GGUFReader`` sees the file.

Why: ``GGUFReader`` trusts every count and offset in the file.  A truncated file makes it fail
with an assorted ``IndexError``/``ValueError``; a hostile array length (2**60 zero-sized reads past
the end of the map) makes it loop for ever.  This walk reads only the header bytes, checks every
length against the bytes that remain and every tensor's data range against the file size, and
raises :class:`CorruptCheckpointError` naming the file.  It allocates nothing proportional to
what the file claims.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

from heredity.errors import CorruptCheckpointError, UnsupportedFormatError, safe_name

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_NAME = 1 << 16  # tensor names / keys longer than this are not real
MAX_ARRAY_DEPTH = 3
STRING, ARRAY = 8, 9
# GGUFValueType -> byte size of a scalar of that type (STRING and ARRAY are variable)
SCALAR_SIZE = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
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


def _skip_value(cur: _Cursor, vtype: int, depth: int = 0) -> None:
    """Skip one metadata value; arrays are checked against the bytes left before any loop."""
    if vtype in SCALAR_SIZE:
        cur.skip(SCALAR_SIZE[vtype])
    elif vtype == STRING:
        cur.skip(cur.u64())
    elif vtype == ARRAY:
        _skip_array(cur, depth)
    else:
        raise cur.fail(f"unknown metadata value type {vtype}")


def _skip_array(cur: _Cursor, depth: int) -> None:
    if depth >= MAX_ARRAY_DEPTH:
        raise cur.fail("metadata arrays nested too deep")
    itype, count = cur.u32(), cur.u64()
    remaining = len(cur.buf) - cur.pos
    if itype in SCALAR_SIZE:
        cur.skip(count * SCALAR_SIZE[itype])
        return
    if itype not in (STRING, ARRAY):
        raise cur.fail(f"unknown metadata array item type {itype}")
    if count * 8 > remaining:  # every string / nested array costs at least 8 bytes
        raise cur.fail(f"an array of {count} items cannot fit in the {remaining} bytes left")
    for _ in range(count):
        _skip_value(cur, itype, depth + 1)


def _read_kv(cur: _Cursor, count: int) -> int:
    """Walk ``count`` key/value pairs; return the alignment they set (or the default)."""
    alignment = DEFAULT_ALIGNMENT
    for _ in range(count):
        key = cur.string(MAX_NAME).decode("utf-8", errors="replace")
        vtype = cur.u32()
        if key == ALIGNMENT_KEY and vtype == 4:
            alignment = cur.u32()
            if alignment == 0 or alignment & (alignment - 1):
                raise cur.fail(f"alignment {alignment} is not a power of two")
        else:
            _skip_value(cur, vtype)
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


def scan_header(path: Path) -> list[TensorSpan]:
    """Validate a GGUF file's header and return every tensor's byte span, in file order."""
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        if size < 24:
            raise CorruptCheckpointError(f"GGUF file of {size} bytes is too short", path=path, fix=FIX)
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _scan(_Cursor(buf, path))


def _scan(cur: _Cursor) -> list[TensorSpan]:
    n_tensors, n_kv = _check_preamble(cur)
    alignment = _read_kv(cur, n_kv)
    infos = [_read_tensor_info(cur) for _ in range(n_tensors)]
    data_start = -(-cur.pos // alignment) * alignment
    spans = [_span(cur, info, data_start) for info in infos]
    names = [s.name for s in spans]
    if len(set(names)) != len(names):
        raise cur.fail("two tensors share one name")
    return spans
