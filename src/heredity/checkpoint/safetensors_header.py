"""Parse and validate a safetensors header with ``struct`` + ``json``, before anything is mapped.

Why our own parser: a checkpoint is hostile input.  Every claim the header makes is checked against
the file: the length prefix (capped), the JSON shape, known dtypes, non-negative integer shapes,
``data_offsets`` that match ``shape x itemsize``, lie inside the file and do not overlap.  Nothing is
allocated in proportion to what the header claims.
"""

from __future__ import annotations

import json
import math
import operator
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from itertools import chain, repeat
from typing import Any, NamedTuple, TypeVar

from heredity.checkpoint.dtypes import ITEMSIZE, SAFETENSORS_DTYPES
from heredity.errors import CorruptCheckpointError, UnsupportedFormatError, safe_name

MAX_HEADER_BYTES = 100 << 20
MAX_DIMS = 16
FIX = "the file is truncated or not a valid safetensors file; re-download or re-save it"
METADATA_KEY = "__metadata__"


class HeaderEntry(NamedTuple):
    """One tensor as the header declares it; ``start``/``stop`` are absolute file offsets (a named
    tuple: cheap to build by the 100,000)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    start: int
    stop: int


T = TypeVar("T", bound=tuple[Any, ...])
Make = Callable[[tuple[Any, ...]], T]  # a named tuple's _make, e.g. partial(tuple.__new__, HeaderEntry)
_make_entry: Make[HeaderEntry] = partial(tuple.__new__, HeaderEntry)  # _make without a Python call each


@dataclass(frozen=True)
class Header:
    entries: tuple[HeaderEntry, ...]  # in storage order (by start offset)
    metadata: dict[str, str]
    data_start: int  # absolute offset of the byte buffer


def _fail(path: object, message: str) -> CorruptCheckpointError:
    return CorruptCheckpointError(message, path=path, fix=FIX)


def header_length(prefix: bytes, file_size: int, path: object) -> int:
    """Validate the 8-byte length prefix against the cap and the file size; return the length."""
    if len(prefix) < 8 or file_size < 8:
        raise _fail(path, f"file is {file_size} bytes, too short for a safetensors header")
    (n,) = struct.unpack("<Q", prefix[:8])
    if n > MAX_HEADER_BYTES:
        raise _fail(path, f"header length {n} exceeds the {MAX_HEADER_BYTES}-byte limit")
    if 8 + n > file_size:
        raise _fail(path, f"header length {n} runs past the end of the {file_size}-byte file")
    return int(n)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # one C call; only an object with a repeated key takes the loop that names it
    if len(out) == len(pairs):
        return out
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {safe_name(key, 80)}")
        out[key] = value
    return out


def _load_json(raw: bytes, path: object) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise _fail(path, f"header is not valid JSON ({safe_name(exc, 120)})") from None
    if not isinstance(value, dict):
        raise _fail(path, f"header is a JSON {type(value).__name__}, not an object")
    return value


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_metadata(value: object, path: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _fail(path, "__metadata__ must be an object of strings")
    return dict(value)


def _entry(name: str, spec: object, data_start: int, data_size: int, path: object) -> HeaderEntry:
    where = f"tensor '{safe_name(name, 120)}'"
    if not isinstance(spec, dict) or not {"dtype", "shape", "data_offsets"} <= spec.keys():
        raise _fail(path, f"{where}: entry must be an object with dtype, shape and data_offsets")
    dtype, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
    if not isinstance(dtype, str) or dtype not in SAFETENSORS_DTYPES:
        raise UnsupportedFormatError(
            f"{where}: unknown dtype '{safe_name(dtype, 40)}'",
            path=path,
            fix=f"heredity reads dtypes {', '.join(SAFETENSORS_DTYPES)}",
        )
    if not isinstance(shape, list) or len(shape) > MAX_DIMS or not all(_is_int(d) and d >= 0 for d in shape):
        raise _fail(path, f"{where}: shape must be a list of at most {MAX_DIMS} non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
        raise _fail(path, f"{where}: data_offsets must be two integers")
    begin, end = offsets
    numel = 1
    for d in shape:
        numel *= d
    if not 0 <= begin <= end or end - begin != numel * ITEMSIZE[dtype]:
        raise _fail(path, f"{where}: data_offsets {begin}..{end} do not match shape {shape} of {dtype}")
    if end > data_size:
        raise _fail(path, f"{where}: data ends at {end}, past the {data_size}-byte data section (truncated?)")
    return HeaderEntry(name, dtype, tuple(shape), data_start + begin, data_start + end)


def _plain_entry(name: str, spec: object, data_start: int, data_size: int) -> HeaderEntry | None:
    """The entry when it is plainly valid, checked in a few type tests (a 100,000-tensor header is
    mostly this); ``None`` otherwise, and :func:`_entry` then validates it in full and names the fault.
    Everything accepted here :func:`_entry` accepts too, with the same result."""
    if type(spec) is not dict:
        return None
    dtype: Any = spec.get("dtype")
    shape, offsets = spec.get("shape"), spec.get("data_offsets")
    itemsize = ITEMSIZE.get(dtype) if type(dtype) is str else None  # the static table: no ml_dtypes import
    if itemsize is None or type(shape) is not list or len(shape) > MAX_DIMS or type(offsets) is not list:
        return None
    for d in shape:
        if type(d) is not int or d < 0:
            return None
    if len(offsets) != 2 or type(offsets[0]) is not int or type(offsets[1]) is not int:
        return None
    begin, end = offsets
    if not 0 <= begin <= end <= data_size or end - begin != math.prod(shape) * itemsize:
        return None
    return HeaderEntry(name, dtype, tuple(shape), data_start + begin, data_start + end)


_KEYS = ("dtype", "shape", "data_offsets")


def _plain_entries(
    names: list[str], specs: list[Any], data_start: int, data_size: int, make: Make[T], extra: tuple[Any, ...]
) -> list[T] | None:
    """Every entry at once when all are plainly valid, or ``None`` (then each is checked on its own
    and the first fault is named).  The tests of :func:`_plain_entry`, made column by column with
    C-level ``map``/``set``/``min``/``max`` instead of ~20 Python operations per tensor; what this
    accepts, :func:`_plain_entry` accepts for every entry, with the same result (each made by
    ``make`` from the entry's fields and ``extra``)."""
    if not specs:
        return []
    if set(map(type, specs)) != {dict}:
        return None
    try:
        dtypes, shapes, offsets = (list(map(operator.itemgetter(k), specs)) for k in _KEYS)
    except KeyError:
        return None
    if set(map(type, dtypes)) != {str} or not ITEMSIZE.keys() >= set(dtypes):
        return None
    if set(map(type, shapes)) != {list} or max(map(len, shapes)) > MAX_DIMS:
        return None
    dims = list(chain.from_iterable(shapes))
    if dims and (set(map(type, dims)) != {int} or min(dims) < 0):
        return None
    if set(map(type, offsets)) != {list} or set(map(len, offsets)) != {2}:
        return None
    ends = list(chain.from_iterable(offsets))
    if set(map(type, ends)) != {int}:
        return None
    begins, ends = ends[0::2], ends[1::2]
    sizes = list(map(operator.mul, map(math.prod, shapes), map(ITEMSIZE.__getitem__, dtypes)))
    # sizes are >= 0, so equal differences also say begin <= end
    if min(begins) < 0 or max(ends) > data_size or list(map(operator.sub, ends, begins)) != sizes:
        return None
    starts, stops = map(data_start.__add__, begins), map(data_start.__add__, ends)
    # equal shapes share one tuple (their dims are all exact ints, so equal means the same): a few
    # dozen objects instead of one per tensor for the garbage collector to walk
    tuples = list(map(tuple, shapes))
    shared: dict[tuple[int, ...], tuple[int, ...]] = {}
    tuples = list(map(shared.setdefault, tuples, tuples))
    return list(map(make, zip(names, dtypes, tuples, starts, stops, *map(repeat, extra), strict=False)))  # (repeat is endless)


def parse_header(raw: bytes, file_size: int, path: object) -> Header:
    """Validate a header's JSON bytes (without the 8-byte prefix) against the file's size."""
    entries, metadata, data_start = _parse(raw, file_size, path, _make_entry, ())
    return Header(tuple(entries), metadata, data_start)


def _tensors_of(doc: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """The header's tensor names and entries (all but ``__metadata__``), in file order."""
    names, specs = list(doc), list(doc.values())
    if METADATA_KEY in doc:
        del specs[names.index(METADATA_KEY)]
        names.remove(METADATA_KEY)
    return names, specs


def _parse_plain(
    raw: bytes, data_start: int, data_size: int, make: Make[T], extra: tuple[Any, ...]
) -> tuple[list[T], dict[str, str]] | None:
    """The entries and metadata of a plainly valid header, from a bare ``json.loads`` (a third
    faster than one calling a duplicate-key hook per object); None for anything else, which
    :func:`_load_json` and the per-entry checks then parse again and name the fault of.

    Repeated keys, which a bare parse silently merges, are ruled out by counting: with no
    backslash in the text every string is spelled as parsed, so the ``:`` outside strings (the
    text's ``:`` less those inside the parsed strings) number the key/value pairs the text holds;
    equal to the keys parsed means none repeated (each repeat would leave one pair, and its
    strings' ``:``, uncounted).  The tally covers every string because a plain header holds only
    tensor entries of exactly ``dtype`` (a known dtype: no ``:``), ``shape`` and ``data_offsets``
    (integers), and ``__metadata__`` strings."""
    if b"\\" in raw:
        return None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if type(doc) is not dict:
        return None
    metadata = doc.get(METADATA_KEY, {})
    if type(metadata) is not dict or not all(type(v) is str for v in metadata.values()):
        return None
    names, specs = _tensors_of(doc)
    entries = _plain_entries(names, specs, data_start, data_size, make, extra)
    if entries is None or (specs and set(map(len, specs)) != {3}):
        return None
    inside = sum(map(str.count, names, repeat(":"))) + sum(k.count(":") + v.count(":") for k, v in metadata.items())
    if raw.count(b":") - inside != len(doc) + 3 * len(specs) + len(metadata):
        return None
    return entries, dict(metadata)


def _parse(
    raw: bytes, file_size: int, path: object, make: Make[T], extra: tuple[Any, ...]
) -> tuple[list[T], dict[str, str], int]:
    """:func:`parse_header`'s work, each entry made by ``make`` from its fields and ``extra``."""
    data_start = 8 + len(raw)
    data_size = file_size - data_start
    quick = _parse_plain(raw, data_start, data_size, make, extra)
    if quick is not None:
        quick[0].sort(key=_BY_OFFSET)
        _check_overlap(quick[0], path)
        return quick[0], quick[1], data_start
    doc = _load_json(raw, path)
    metadata: dict[str, str] = {}
    names, specs = _tensors_of(doc)
    entries = _plain_entries(names, specs, data_start, data_size, make, extra)
    if entries is not None:  # all tensors valid: the metadata is the only thing left to refuse
        if METADATA_KEY in doc:
            metadata = _check_metadata(doc[METADATA_KEY], path)
    else:  # in file order, so that the first fault is the one named
        entries = []
        for name, spec in doc.items():
            if name == METADATA_KEY:
                metadata = _check_metadata(spec, path)
            else:
                plain = _plain_entry(name, spec, data_start, data_size)
                entries.append(make(tuple(plain or _entry(name, spec, data_start, data_size, path)) + extra))
    entries.sort(key=_BY_OFFSET)
    _check_overlap(entries, path)
    return entries, metadata, data_start


_BY_OFFSET = operator.itemgetter(3, 4)  # (start, stop) of a HeaderEntry


def _check_overlap(entries: list[Any], path: object) -> None:
    """Entries (sorted by offset) whose bytes overlap are refused; they have HeaderEntry's fields."""
    prev: Any = None
    for e in entries:
        if e.start == e.stop:
            continue  # empty tensors occupy no bytes
        if prev is not None and e.start < prev.stop:
            raise _fail(path, f"tensors '{safe_name(prev.name, 80)}' and '{safe_name(e.name, 80)}' overlap")
        prev = e


def read_header(f: Any, file_size: int, path: object) -> Header:
    """Read and validate the header of an open binary file."""
    n = header_length(f.read(8), file_size, path)
    raw = f.read(n)
    if len(raw) != n:
        raise _fail(path, "file ended inside the header")
    return parse_header(raw, file_size, path)


def read_entries(f: Any, file_size: int, path: object, make: Make[T], extra: tuple[Any, ...]) -> list[T]:
    """:func:`read_header`'s entries (in storage order), each made by ``make`` from its fields and
    ``extra``: a reader's own records straight away (``Span``: the fields and the file), not a
    HeaderEntry each to copy."""
    n = header_length(f.read(8), file_size, path)
    raw = f.read(n)
    if len(raw) != n:
        raise _fail(path, "file ended inside the header")
    return _parse(raw, file_size, path, make, extra)[0]
