"""From a source (folder, file, fingerprint file or hub id) to what the registry stores about it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from heredity.fingerprint.model import Fingerprint

TOKENIZER_FILE = "tokenizer.json"
MAX_TOKENIZER_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Ingested:
    """A fingerprint plus the facts about where it came from."""

    fingerprint: Fingerprint
    source: str  # absolute path, or the hub id as given
    revision: str | None  # the pinned hub commit, when known
    tokenizer: str | None  # sha256 of tokenizer.json, when the model folder has one


def ingest(source: str) -> Ingested:
    """Open ``source`` and extract its fingerprint (reads every tensor once; hub ids read only the
    tensors' bytes the fingerprint needs through the hub reader); a fingerprint file is loaded as is."""
    from heredity.fingerprint import extract, is_fingerprint_file, load
    from heredity.layouts import load_model

    path = Path(source)
    if is_fingerprint_file(path):
        fp = load(path)
        return Ingested(fp, fp.source, None, None)
    model = load_model(source)
    fp = extract(model)
    local = path.exists()
    revision = None if local else getattr(getattr(model.checkpoint, "_repo", None), "revision", None)
    return Ingested(fp, str(path.resolve()) if local else source, revision, tokenizer_hash(path) if local else None)


def tokenizer_hash(path: Path) -> str | None:
    """sha256 of the model folder's tokenizer.json (None when there is none)."""
    folder = path if path.is_dir() else None
    if folder is None:
        return None
    tok = folder / TOKENIZER_FILE
    if not tok.is_file() or tok.stat().st_size > MAX_TOKENIZER_BYTES:
        return None
    h = hashlib.sha256()
    with tok.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
