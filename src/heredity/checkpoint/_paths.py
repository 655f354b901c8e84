"""Refuse, before any reader opens it, a path that can never be a checkpoint.

Why first: opening a FIFO blocks until a writer appears (forever, for a user who passed one by
mistake), a device can be endless, a socket cannot be opened at all, and a symlink loop looks like a
missing file to ``Path.exists`` (so it would be mistaken for a hub id).  A llama2.c export has no
magic, so a truncated one would otherwise be "not a format heredity recognises"; its header alone is
distinctive enough to name the real problem.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from pathlib import Path

from heredity.errors import CorruptCheckpointError, InputError, NotFoundError, UsageError

# A fingerprint file (heredity.fingerprint.io) is a safetensors file whose header starts with this.
FINGERPRINT_MARKER = b'{"__metadata__":{"format":"heredity.fingerprint"'
_OLD_PAIR_SCHEMA = b'"heredity.fingerprint/'
_MAX_PAIR_JSON = 64 << 20

_SPECIAL = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_FIX = "give a checkpoint file or folder"


def check_source(text: str) -> None:
    """Raise an :class:`InputError` for a symlink loop, a dangling link or a special file; return
    quietly for a regular file, a folder, or a path that does not exist (maybe a hub id)."""
    try:
        mode = os.stat(text).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError("symbolic link loop (a link that points back to itself)", path=text,
                             fix="point the link at the checkpoint") from None
        if exc.errno == errno.ENOENT and os.path.islink(text):
            raise NotFoundError("broken symbolic link (its target does not exist)", path=text,
                                fix="point the link at the checkpoint") from None
        return  # missing (a hub id?) or unreadable: the caller says which
    except ValueError:  # an embedded NUL byte: no such file
        return
    for test, what in _SPECIAL:
        if test(mode):
            raise InputError(f"is {what}, not a checkpoint file", path=text, fix=_FIX)


def check_contents(path: Path, head: bytes, size: int) -> None:
    """Refuse, from the first bytes the file probe already read (no second open), a fingerprint where a
    checkpoint is wanted and a truncated llama2.c export."""
    _check_not_fingerprint(path, head)
    _check_llama2c_truncation(path, head, size)


def _check_not_fingerprint(path: Path, head: bytes) -> None:
    """A fingerprint (or half of an old fingerprint pair) where a checkpoint is wanted: say so."""
    if head[8:8 + len(FINGERPRINT_MARKER)] == FINGERPRINT_MARKER:
        raise UsageError("is a heredity fingerprint, not a checkpoint", path=path,
                         fix="compare, inspect and matrix take it; fingerprint needs the model itself")
    doc = pair_document_of(path)
    if doc is not None:
        raise UsageError(f"is the array half of the old-style fingerprint pair {doc.name}", path=path,
                         fix=f"pass {doc.name} instead")


def pair_document_of(path: Path) -> Path | None:
    """For the ``.safetensors`` half of an old fingerprint pair (``NAME.json`` + ``NAME.safetensors``),
    the ``.json`` whose ``"arrays"`` names it; else None."""
    import json

    doc = path.with_suffix(".json")
    if path.suffix != ".safetensors" or not doc.is_file() or doc.stat().st_size > _MAX_PAIR_JSON:
        return None
    raw = doc.read_bytes()
    if _OLD_PAIR_SCHEMA not in raw[:4096]:
        return None
    try:
        named = json.loads(raw).get("arrays")
    except (ValueError, UnicodeDecodeError, AttributeError, RecursionError):
        return None
    return doc if named == path.name else None


def _check_llama2c_truncation(path: Path, head: bytes, size: int) -> None:
    """A file starting with a sane llama2.c header but shorter than the header implies is a truncated
    llama2.c export (no other format heredity reads starts with seven small positive int32s)."""
    if len(head) < 16 or min(struct.unpack_from("<4i", head)) <= 0:
        return  # dim, hidden, layers and heads must all be positive: not llama2.c (safetensors, GGUF)
    from heredity.checkpoint.llama2c_reader import HEADER, Llama2cHeader, expected_size, parse_header

    header = parse_header(head[:HEADER.size])
    if not isinstance(header, Llama2cHeader):
        return
    want = expected_size(header)
    if size < want:
        raise CorruptCheckpointError(
            f"truncated llama2.c export: the header implies {want} bytes but the file has {size}",
            path=path, fix="copy or download the file again",
        )
