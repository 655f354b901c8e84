"""Text in, token batches out: a byte-level tokenizer and the bundled corpora.

Tokens are the UTF-8 bytes of the text (vocab 256), so no tokenizer file is needed and every model
of every family shares one vocabulary: independent pairs differ by seed, data or family, never by
tokenizer.  The corpora in ``forge/corpus/`` were written for heredity (retold fables, plain prose).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from heredity.errors import InputError, NotFoundError

VOCAB = 256  # one token per byte value


def corpus_names() -> list[str]:
    """Names of the bundled corpora (file stems)."""
    root = resources.files("heredity.forge").joinpath("corpus")
    return sorted(p.name.removesuffix(".txt") for p in root.iterdir() if p.name.endswith(".txt"))


def load_corpus(name_or_path: str) -> str:
    """A bundled corpus by name (``fables``) or any UTF-8 text file by path."""
    path = Path(name_or_path)
    if path.suffix and path.is_file():
        return path.read_text(encoding="utf-8", errors="replace")
    bundled = resources.files("heredity.forge").joinpath("corpus", f"{name_or_path}.txt")
    if bundled.is_file():
        return bundled.read_text(encoding="utf-8")
    raise NotFoundError(
        "no such corpus or text file", path=name_or_path, fix=f"use a file path or one of: {', '.join(corpus_names())}"
    )


def encode(text: str) -> np.ndarray:
    """UTF-8 bytes as int64 token ids."""
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)


def decode(tokens: np.ndarray) -> str:
    return bytes(np.asarray(tokens, dtype=np.uint8).tolist()).decode("utf-8", errors="replace")


def split(tokens: np.ndarray, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Train / validation split at one cut point (the tail is validation)."""
    cut = int(len(tokens) * (1.0 - val_fraction))
    return tokens[:cut], tokens[cut:]


def batches(tokens: np.ndarray, batch: int, seq: int, seed: int) -> BatchStream:
    """An endless, seeded stream of (x, y) windows; y is x shifted by one token."""
    if len(tokens) < seq + 2:
        raise InputError(f"corpus has {len(tokens)} tokens, fewer than one window of {seq + 1}", fix="give more text")
    return BatchStream(tokens, batch, seq, seed)


class BatchStream:
    """Random windows of a token array; deterministic for a given seed."""

    def __init__(self, tokens: np.ndarray, batch: int, seq: int, seed: int) -> None:
        self.tokens, self.batch, self.seq = tokens, batch, seq
        self.rng = np.random.default_rng(seed)

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> tuple[np.ndarray, np.ndarray]:
        starts = self.rng.integers(0, len(self.tokens) - self.seq - 1, size=self.batch)
        rows = np.stack([self.tokens[s : s + self.seq + 1] for s in starts])  # (B, T+1)
        return rows[:, :-1], rows[:, 1:]
