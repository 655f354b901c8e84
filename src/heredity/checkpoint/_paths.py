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
from pathlib import Path

from heredity.errors import CorruptCheckpointError, InputError, NotFoundError

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
    for test, what in _SPECIAL:
        if test(mode):
            raise InputError(f"is {what}, not a checkpoint file", path=text, fix=_FIX)
    if stat.S_ISREG(mode):
        _check_llama2c_truncation(Path(text))


def _check_llama2c_truncation(path: Path) -> None:
    """A file starting with a sane llama2.c header but shorter than the header implies is a truncated
    llama2.c export (no other format heredity reads starts with seven small positive int32s)."""
    from heredity.checkpoint.llama2c_reader import HEADER, Llama2cHeader, expected_size, parse_header

    try:
        with open(path, "rb") as f:
            header = parse_header(f.read(HEADER.size))
    except OSError:
        return  # unreadable: the reader reports it
    if not isinstance(header, Llama2cHeader):
        return
    size, want = path.stat().st_size, expected_size(header)
    if size < want:
        raise CorruptCheckpointError(
            f"truncated llama2.c export: the header implies {want} bytes but the file has {size}",
            path=path, fix="copy or download the file again",
        )
