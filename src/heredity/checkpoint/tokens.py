"""A checkpoint's token strings, where the files say them: ``tokens(checkpoint) -> list[str | None] | None``.

Two places are read, both bounded before anything is allocated:

* a GGUF file's ``tokenizer.ggml.tokens`` metadata array (the header walker of :mod:`._gguf_header`
  skips long arrays, so this walks the key/value section once more and keeps only that array);
* ``tokenizer.json`` in a Hugging Face model folder, or next to a ``.safetensors`` file: ``model.vocab``
  (a ``token -> id`` map for BPE / WordPiece, a list of ``[token, score]`` for Unigram) and
  ``added_tokens``.

Anything else (llama2.c exports, torch files, hub ids, a missing or malformed tokenizer) gives None: the
caller pairs tokens by id.  Token strings are data used to pair rows, never printed unescaped.
"""

from __future__ import annotations

import json
import mmap
from pathlib import Path
from typing import Any

from heredity.checkpoint._gguf_header import ARRAY, MAX_NAME, STRING, _check_preamble, _Cursor, _read_value
from heredity.checkpoint.base import Checkpoint
from heredity.errors import HeredityError

GGUF_TOKENS = "tokenizer.ggml.tokens"
TOKENIZER_FILE = "tokenizer.json"
MAX_TOKENIZER_BYTES = 64 << 20  # a tokenizer.json larger than this is not read
MAX_TOKENS = 1 << 22  # vocabularies larger than this are not real
MAX_TOKEN_BYTES = 1 << 12  # one token string longer than this is not real


def tokens(ck: Checkpoint) -> list[str | None] | None:
    """Token string of every id (None where an id has none), or None when the checkpoint says nothing."""
    try:
        if ck.format == "gguf":
            return gguf_tokens(Path(ck.source))
        path = _tokenizer_json(Path(ck.source), ck.format)
        return None if path is None else tokenizer_json_tokens(path)
    except (OSError, ValueError, RecursionError, HeredityError):
        return None  # unreadable: pair by id (the statistic's null does not depend on the pairing)


def _tokenizer_json(source: Path, fmt: str) -> Path | None:
    if source.is_dir():
        folder = source
    elif fmt == "safetensors" and source.is_file():
        folder = source.parent
    else:
        return None
    path = folder / TOKENIZER_FILE
    return path if path.is_file() and path.stat().st_size <= MAX_TOKENIZER_BYTES else None


def tokenizer_json_tokens(path: Path) -> list[str | None] | None:
    """Id -> string from a Hugging Face ``tokenizer.json`` (None when it holds no usable vocabulary)."""
    with path.open("rb") as fh:
        doc = json.loads(fh.read(MAX_TOKENIZER_BYTES + 1))
    if not isinstance(doc, dict):
        return None
    pairs: list[tuple[Any, Any]] = []
    vocab = doc.get("model", {}).get("vocab") if isinstance(doc.get("model"), dict) else None
    if isinstance(vocab, dict):
        pairs += list(vocab.items())
    elif isinstance(vocab, list):  # Unigram: [[token, score], ...], the id is the position
        pairs += [(v[0], i) for i, v in enumerate(vocab) if isinstance(v, list) and v]
    added = doc.get("added_tokens")
    if isinstance(added, list):
        pairs += [(t.get("content"), t.get("id")) for t in added if isinstance(t, dict)]
    return _by_id(pairs)


def _by_id(pairs: list[tuple[Any, Any]]) -> list[str | None] | None:
    ok = [(s, i) for s, i in pairs if isinstance(s, str) and type(i) is int and 0 <= i < MAX_TOKENS]
    if not ok:
        return None
    out: list[str | None] = [None] * (max(i for _, i in ok) + 1)
    for s, i in ok:
        out[i] = s
    return out


def gguf_tokens(path: Path) -> list[str | None] | None:
    """``tokenizer.ggml.tokens`` of a GGUF file (None when the header has no such array)."""
    if Path(path).stat().st_size == 0:  # mmap refuses an empty file; it holds no header at all
        return None
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        cur = _Cursor(buf, path)
        _, n_kv = _check_preamble(cur)
        for _ in range(n_kv):
            key = cur.string(MAX_NAME).decode("utf-8", errors="replace")
            vtype = cur.u32()
            if key == GGUF_TOKENS and vtype == ARRAY:
                return _string_array(cur)
            _read_value(cur, vtype, keep=False)
    return None


def _string_array(cur: _Cursor) -> list[str | None] | None:
    itype, count = cur.u32(), cur.u64()
    if itype != STRING or count > MAX_TOKENS:
        return None
    if count * 8 > len(cur.buf) - cur.pos:
        raise cur.fail(f"a token array of {count} items cannot fit in the file")
    return [cur.string(MAX_TOKEN_BYTES).decode("utf-8", errors="replace") for _ in range(count)]
