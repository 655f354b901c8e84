"""llama2.c legacy export (``model.bin``): seven int32 header fields, then float32 arrays.

The file carries no magic and no names, so it is recognised by arithmetic: the header's dims must
be sane and the arrays they imply (plus the RoPE tables after ``rms_final`` and, for a negative
``vocab_size``, an unshared classifier) must add up to the file's length exactly.  Tensors get the
names of llama2.c's own PyTorch checkpoints, with PyTorch's ``[out, in]`` shapes.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heredity.checkpoint.mapped import MappedCheckpoint, Span
from heredity.errors import CorruptCheckpointError

HEADER = struct.Struct("<7i")
FLOAT = 4
# generous limits: the largest llama2.c-style exports are 7B-class models
LIMITS = {
    "dim": 1 << 15,
    "hidden_dim": 1 << 17,
    "n_layers": 1 << 10,
    "n_heads": 1 << 10,
    "vocab": 1 << 20,
    "seq_len": 1 << 20,
}
FIX = "the file is not a llama2.c export or is truncated; re-export it with llama2.c's export.py"


@dataclass(frozen=True)
class Llama2cHeader:
    dim: int
    hidden_dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int  # always positive here
    seq_len: int
    shared_classifier: bool

    @property
    def head_size(self) -> int:
        return self.dim // self.n_heads

    @property
    def kv_dim(self) -> int:
        return self.n_kv_heads * self.head_size


def parse_header(raw: bytes) -> Llama2cHeader | str:
    """The header, or a one-line reason it cannot be a llama2.c header."""
    if len(raw) < HEADER.size:
        return "file is shorter than the 28-byte header"
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = HEADER.unpack(raw[: HEADER.size])
    values = {
        "dim": dim,
        "hidden_dim": hidden,
        "n_layers": layers,
        "n_heads": heads,
        "vocab": abs(vocab),
        "seq_len": seq_len,
    }
    for key, value in values.items():
        if not 0 < value <= LIMITS[key]:
            return f"header field {key}={value} is outside 1..{LIMITS[key]}"
    if dim % heads or not 0 < kv_heads <= heads or heads % kv_heads or (dim // heads) % 2:
        return f"dim {dim}, {heads} heads and {kv_heads} kv heads are inconsistent"
    return Llama2cHeader(dim, hidden, layers, heads, kv_heads, abs(vocab), seq_len, vocab > 0)


def layout(h: Llama2cHeader) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of each stored array, in file order; the unnamed entry is the skipped RoPE tables."""
    d, f, kv, L = h.dim, h.hidden_dim, h.kv_dim, h.n_layers
    per_layer = [
        ("attention_norm", (d,)),
        ("attention.wq", (d, d)),
        ("attention.wk", (kv, d)),
        ("attention.wv", (kv, d)),
        ("attention.wo", (d, d)),
        ("ffn_norm", (d,)),
        ("feed_forward.w1", (f, d)),
        ("feed_forward.w2", (d, f)),
        ("feed_forward.w3", (f, d)),
    ]
    out: list[tuple[str, tuple[int, ...]]] = [("tok_embeddings.weight", (h.vocab_size, d))]
    for part, shape in per_layer:  # llama2.c stores each kind for all layers together
        out += [(f"layers.{i}.{part}.weight", shape) for i in range(L)]
    out.append(("norm.weight", (d,)))
    out.append(("", (2, h.seq_len, h.head_size // 2)))  # freq_cis real + imag: skipped
    if not h.shared_classifier:
        out.append(("output.weight", (h.vocab_size, d)))
    return out


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def expected_size(h: Llama2cHeader) -> int:
    return HEADER.size + FLOAT * sum(_numel(shape) for _, shape in layout(h))


def check_header(head: bytes, size: int) -> Llama2cHeader | str:
    """The header parsed from a file's first bytes, checked against the file's ``size``; or a reason."""
    parsed = parse_header(head)
    if isinstance(parsed, str):
        return parsed
    want = expected_size(parsed)
    if size != want:
        return f"header implies {want} bytes but the file has {size}"
    return parsed


def _header_of(path: Path) -> Llama2cHeader | str:
    with open(path, "rb") as f:
        return check_header(f.read(HEADER.size), os.fstat(f.fileno()).st_size)


def header_matches(head: bytes, size: int) -> bool:
    """The sniff: the header in ``head`` is sane and its arithmetic matches ``size`` exactly."""
    return isinstance(check_header(head, size), Llama2cHeader)


def looks_like_llama2c(path: str | os.PathLike[str]) -> bool:
    """True when the header is sane and its arithmetic matches the file length exactly."""
    return isinstance(_header_of(Path(path)), Llama2cHeader)


def synthesized_config(h: Llama2cHeader) -> dict[str, Any]:
    return {
        "model_type": "llama2c",
        "hidden_size": h.dim,
        "num_attention_heads": h.n_heads,
        "num_key_value_heads": h.n_kv_heads,
        "intermediate_size": h.hidden_dim,
        "num_hidden_layers": h.n_layers,
        "vocab_size": h.vocab_size,
        "max_position_embeddings": h.seq_len,
        "tie_word_embeddings": h.shared_classifier,
    }


def open_llama2c(path: str | os.PathLike[str]) -> MappedCheckpoint:
    """Open a llama2.c legacy export; a shared classifier appears as ``output.weight`` aliasing the
    embedding bytes (as in llama2.c's PyTorch checkpoints, where the two are one tensor)."""
    p = Path(path)
    parsed = _header_of(p)
    if isinstance(parsed, str):
        raise CorruptCheckpointError(f"not a valid llama2.c export: {parsed}", path=p, fix=FIX)
    spans: list[Span] = []
    offset = HEADER.size
    for name, shape in layout(parsed):
        stop = offset + FLOAT * _numel(shape)
        if name:
            spans.append(Span(name, "F32", shape, offset, stop, p))
        offset = stop
    if parsed.shared_classifier:
        emb = spans[0]
        spans.append(Span("output.weight", "F32", emb.shape, emb.start, emb.stop, p))
    return MappedCheckpoint(p, "llama2c", spans, synthesized_config(parsed))
