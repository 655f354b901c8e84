"""A local Hugging Face hub whose full-size bf16 checkpoints are generated on demand, never stored.

The server (stdlib ``ThreadingHTTPServer`` on 127.0.0.1) speaks the parts of the hub protocol that
``huggingface_hub`` and Range-reading tools use:

* ``HEAD|GET /{org}/{name}/resolve/{rev}/{file}``: small files (``config.json``, the shard index) answer
  200 with ``ETag``, ``X-Repo-Commit`` and ``Content-Length``; shards answer like the hub's LFS files,
  ``302`` to a "CDN" URL with ``X-Linked-Size``, ``X-Linked-Etag`` and ``X-Repo-Commit``.  The CDN URL
  lives on ``http://localhost:PORT`` (another host name for the same server), so ``huggingface_hub``
  stops at the redirect and reads the metadata from it, exactly as it does with the real CDN.
* ``GET`` with ``Range: bytes=a-b`` -> 206 with ``Content-Range`` (suffix and open ranges too).
* ``GET /api/models/{repo}[/revision/{rev}]`` (model_info, ``siblings`` with sizes when ``blobs=1``) and
  ``GET /api/models/{repo}/tree/{rev}`` (file listing).
* ``GET /_vhub/stats`` (bytes and requests served per repo, server CPU seconds, the most requests
  answered at once), ``/_vhub/reset``.
* ``--latency-ms N``: every request waits N ms before it is answered, as a round trip to a distant
  hub would (requests on separate connections wait side by side, as they would on the real one).

How bytes are made.  Every tensor is a *source*: ``take(rows, cols) -> float32`` for any rows and
columns (1-D tensors are one row).  A base tensor's element ``(r, c)`` is a 32-bit counter hash
(multiply-add keyed by (model seed, tensor name), then murmur3's fmix32) of its flat index
``r * cols + c``, turned into a symmetric triangular value (sum of the two 16-bit halves) scaled to
the tensor's std -- so any element can be produced without the others, and a row permutation costs
nothing.  Derived models are sums of views of their parent (row / column index maps) plus their own
hash noise.  A Range request is served by generating only the rows it covers, in chunks of at most
``CHUNK_ELEMENTS``, converting to bf16 (the top 16 bits of float32, truncated) and slicing bytes.  Two
requests for the same range return identical bytes; memory stays at a few chunks whatever the size.

Models (``catalog("full")``): Qwen2.5-14B's exact layout; a Pangu-Pro-MoE-72B layout upcycled from it
(experts and the shared expert are random neuron subsets of the dense FFN + noise, attention and
norms copied + noise, embedding rows copied for the shared vocabulary); the same MoGE layout from
scratch; an obfuscated fine-tune of the 14B (hidden-channel and per-layer FFN neuron permutations,
applied so the function is preserved, + noise); an independent 14B; and a 7B llama layout with a
fine-tune and an independent twin.  ``catalog("tiny")`` has the same kinds at 2 layers, hidden 64.

ETags are hashes of the layout, not of the content (the content is never hashed whole).

    python benchmarks/virtual_hub.py [--port 0] [--scale full|tiny] [--latency-ms 0]   # prints "PORT n", serves forever
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import re
import resource
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np

U32 = np.uint32
CHUNK_ELEMENTS = 1 << 21  # elements generated per step of a response (8 MiB of float32)
SHARD_BYTES = 4_000_000_000  # shards close after this many tensor bytes (Qwen2.5-14B ships 8 of ~3.9 GB)
STD = 0.02  # weight std before the per-layer factor
BIAS_STD = 0.05
NORM_PROFILE, NORM_NOISE = 0.3, 0.1  # norm = 1 + NORM_PROFILE * model profile + NORM_NOISE * own noise


# ---------------------------------------------------------------------------------------------- values
def _key(*parts: object) -> tuple[int, int]:
    """(odd multiplier, offset) for the counter hash of one tensor."""
    d = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(d[:4], "little") | 1, int.from_bytes(d[4:], "little")


def _uniform_seed(*parts: object) -> float:
    """A deterministic number in [-1, 1) for per-layer factors."""
    a, _ = _key("u", *parts)
    return (a / 2**31) - 1.0


def hash_values(idx: np.ndarray, key: tuple[int, int], std: float) -> np.ndarray:
    """float32 values with mean 0 and std ``std``, one per uint32 index (consumed in place)."""
    x = idx
    x *= U32(key[0])
    x += U32(key[1])
    x ^= x >> U32(16)
    x *= U32(0x85EBCA6B)
    x ^= x >> U32(13)
    x *= U32(0xC2B2AE35)
    x ^= x >> U32(16)
    out = (x & U32(0xFFFF)).astype(np.float32)
    out += (x >> U32(16)).astype(np.float32)
    out -= np.float32(65535.0)
    out *= np.float32(std * np.sqrt(6.0) / 65536.0)  # sum of two U[0, 65536) has std 65536/sqrt(6)
    return out


class Source(Protocol):
    """A 2-D float32 tensor that can produce any rows x cols of itself."""

    @property
    def shape(self) -> tuple[int, int]: ...

    @property
    def std(self) -> float:  # typical spread of its values (noise of derived tensors is relative to it)
        ...

    def take(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Random:
    """Hash noise: element (r, c) from the counter hash of ``r * cols + c``."""

    key: tuple[int, int]
    shape: tuple[int, int]
    std: float

    def __post_init__(self) -> None:
        assert self.shape[0] * self.shape[1] < 2**32, "flat indices must fit in uint32"

    def take(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        idx = rows.astype(U32)[:, None] * U32(self.shape[1]) + cols.astype(U32)[None, :]
        return hash_values(idx, self.key, self.std)


@dataclass(frozen=True)
class Const:
    value: float
    shape: tuple[int, int]
    std: float = 0.0

    def take(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return np.full((len(rows), len(cols)), self.value, np.float32)


@dataclass(frozen=True)
class Sum:
    parts: tuple[Source, ...]
    shape: tuple[int, int]
    std: float

    def take(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        out = self.parts[0].take(rows, cols)
        for p in self.parts[1:]:
            out += p.take(rows, cols)
        return out


@dataclass(frozen=True)
class View:
    """Rows ``row_map[i]`` and columns ``col_map[j]`` of a parent (None: the same index)."""

    parent: Source
    shape: tuple[int, int]
    row_map: np.ndarray | None = None
    col_map: np.ndarray | None = None

    @property
    def std(self) -> float:
        return self.parent.std

    def take(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        r = rows if self.row_map is None else self.row_map[rows]
        c = cols if self.col_map is None else self.col_map[cols]
        return self.parent.take(r, c)


@dataclass(frozen=True)
class Stack:
    """Rows of ``top`` then rows of ``bottom`` (a vocabulary extended with fresh rows)."""

    top: Source
    bottom: Source
    shape: tuple[int, int]

    @property
    def std(self) -> float:
        return self.top.std

    def take(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        n = self.top.shape[0]
        out = np.empty((len(rows), len(cols)), np.float32)
        upper = rows < n
        if upper.any():
            out[upper] = self.top.take(rows[upper], cols)
        if (~upper).any():
            out[~upper] = self.bottom.take(rows[~upper] - n, cols)
        return out


def noisy(parent: Source, key: tuple[int, int], rel: float) -> Source:
    """parent + rel * parent.std noise (a fine-tune of one tensor)."""
    return Sum((parent, Random(key, parent.shape, rel * parent.std)), parent.shape, parent.std)


# --------------------------------------------------------------------------------------------- layouts
@dataclass(frozen=True)
class Dims:
    """One architecture's sizes; experts > 0 makes it a Pangu Pro MoE (MoGE) layout."""

    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int  # dense FFN width (MoE: unused for the experts)
    vocab: int
    qkv_bias: bool = True
    o_bias: bool = False
    experts: int = 0
    experts_per_tok: int = 0  # = expert groups for MoGE
    moe_ffn: int = 0
    shared_ffn: int = 0
    family: str = "qwen2"  # qwen2 | llama | pangu_pro_moe


def tensor_shapes(d: Dims) -> list[tuple[str, tuple[int, ...]]]:
    """Stored names and shapes in file order (embedding, layers, final norm, lm_head)."""
    q, kv = d.heads * d.head_dim, d.kv_heads * d.head_dim
    out: list[tuple[str, tuple[int, ...]]] = [("model.embed_tokens.weight", (d.vocab, d.hidden))]
    for i in range(d.layers):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", (d.hidden,)), (p + "post_attention_layernorm.weight", (d.hidden,))]
        for proj, rows in (("q", q), ("k", kv), ("v", kv)):
            out.append((f"{p}self_attn.{proj}_proj.weight", (rows, d.hidden)))
            if d.qkv_bias:
                out.append((f"{p}self_attn.{proj}_proj.bias", (rows,)))
        out.append((p + "self_attn.o_proj.weight", (d.hidden, q)))
        if d.o_bias:
            out.append((p + "self_attn.o_proj.bias", (d.hidden,)))
        if d.experts:
            out += [(p + "mlp.gate.weight", (d.experts, d.hidden)), (p + "mlp.router_scale", (1, d.experts))]
            for e in range(d.experts):
                out += _ffn(f"{p}mlp.experts.{e}.", d.moe_ffn, d.hidden)
            out += _ffn(p + "mlp.shared_expert.", d.shared_ffn, d.hidden)
        else:
            out += _ffn(p + "mlp.", d.ffn, d.hidden)
    return out + [("model.norm.weight", (d.hidden,)), ("lm_head.weight", (d.vocab, d.hidden))]


def _ffn(prefix: str, width: int, hidden: int) -> list[tuple[str, tuple[int, ...]]]:
    return [(prefix + "gate_proj.weight", (width, hidden)), (prefix + "up_proj.weight", (width, hidden)),
            (prefix + "down_proj.weight", (hidden, width))]


def hf_config(d: Dims) -> dict[str, Any]:
    """config.json with the keys the real models ship (and heredity's layouts read)."""
    common = {"hidden_act": "silu", "hidden_size": d.hidden, "num_hidden_layers": d.layers,
              "num_attention_heads": d.heads, "num_key_value_heads": d.kv_heads, "head_dim": d.head_dim,
              "vocab_size": d.vocab, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
              "max_position_embeddings": 131072, "initializer_range": 0.02}
    if d.family == "pangu_pro_moe":
        return common | {"architectures": ["PanguProMoEForCausalLM"], "model_type": "PanguProMoE",
                         "num_experts": d.experts, "num_experts_per_tok": d.experts_per_tok,
                         "moe_intermediate_size": d.moe_ffn, "shared_expert_intermediate_size": d.shared_ffn,
                         "intermediate_size": d.moe_ffn, "rms_norm_eps": 1e-5, "rope_theta": 16000000.0}
    if d.family == "llama":
        return common | {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                         "intermediate_size": d.ffn, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                         "max_position_embeddings": 4096}
    return common | {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "intermediate_size": d.ffn,
                     "rms_norm_eps": 1e-5, "rope_theta": 1000000.0, "use_sliding_window": False,
                     "max_window_layers": d.layers}


def _as2d(shape: tuple[int, ...]) -> tuple[int, int]:
    return (1, shape[0]) if len(shape) == 1 else (shape[0], shape[1])


def _layer(name: str) -> int:
    m = re.search(r"\.layers\.(\d+)\.", name)
    return int(m.group(1)) if m else -1


# ---------------------------------------------------------------------------------------------- models
@dataclass
class VirtualModel:
    """A repo: config, layout and one source per tensor."""

    repo: str
    dims: Dims
    sources: dict[str, Source]
    declared: str  # what it stands for, in words

    @property
    def params(self) -> int:
        return sum(s.shape[0] * s.shape[1] for s in self.sources.values())


def base_model(repo: str, seed: int, d: Dims, declared: str) -> VirtualModel:
    """A model "trained from scratch": every tensor from its own hash key under ``seed``."""
    profile = Random(_key(seed, "norm-profile"), (1, d.hidden), NORM_PROFILE)
    out: dict[str, Source] = {}
    for name, shape in tensor_shapes(d):
        s2, key = _as2d(shape), _key(seed, name)
        if name.endswith("norm.weight"):
            out[name] = Sum((Const(1.0, s2), profile, Random(key, s2, NORM_NOISE)), s2, NORM_PROFILE)
        elif name.endswith("router_scale"):
            out[name] = Sum((Const(1.0, s2), Random(key, s2, 0.1)), s2, 0.1)
        elif name.endswith(".bias"):
            out[name] = Random(key, s2, BIAS_STD)
        else:  # a per-model, per-layer, per-role std profile, like trained checkpoints have
            role = name.rsplit(".", 2)[-2]
            out[name] = Random(key, s2, STD * (1.0 + 0.3 * _uniform_seed(seed, _layer(name), role)))
    return VirtualModel(repo, d, out, declared)


def finetune(repo: str, parent: VirtualModel, seed: int, rel: float, declared: str) -> VirtualModel:
    """parent + rel * std noise on every tensor."""
    out = {n: noisy(s, _key(seed, n), rel) for n, s in parent.sources.items()}
    return VirtualModel(repo, parent.dims, out, declared)


INPUT_SIDE = ("norm.weight", "embed_tokens.weight", "lm_head.weight", "q_proj.weight", "k_proj.weight",
              "v_proj.weight")


def obfuscated(repo: str, parent: VirtualModel, seed: int, rel: float, declared: str) -> VirtualModel:
    """Fine-tune, then permute hidden channels (P) and each layer's FFN neurons (Q_l), keeping the function:
    inputs of q/k/v/gate/up and embedding columns by P, outputs of o/down by P, gate/up rows and down
    columns by Q_l, every RMSNorm weight by P (RMSNorm commutes with a channel permutation)."""
    d = parent.dims
    rng = np.random.default_rng(seed)
    perm_h = rng.permutation(d.hidden)
    perm_f = [rng.permutation(d.ffn) for _ in range(d.layers)]
    out: dict[str, Source] = {}
    for name, src in parent.sources.items():
        rows = cols = None
        q = perm_f[_layer(name)] if _layer(name) >= 0 else None
        if name.endswith(INPUT_SIDE):  # weights reading the residual stream, and the norms on it
            cols = perm_h
        elif name.endswith("o_proj.weight"):
            rows = perm_h
        elif name.endswith(("gate_proj.weight", "up_proj.weight")):
            rows, cols = q, perm_h
        elif name.endswith("down_proj.weight"):
            rows, cols = perm_h, q
        out[name] = noisy(View(src, src.shape, rows, cols), _key(seed, name), rel)
    return VirtualModel(repo, d, out, declared)


def upcycled_moge(repo: str, dense: VirtualModel, seed: int, d: Dims, rel: float, declared: str) -> VirtualModel:
    """A MoGE layout from a dense model: attention, norms and the shared vocabulary's embedding rows copied
    (+ noise); each expert (and the shared expert) = a random subset of the dense FFN's neurons (+ noise);
    router, router_scale, o_proj bias and new vocabulary rows fresh."""
    fresh = base_model(repo, seed, d, declared).sources
    rng = np.random.default_rng(seed)
    subsets: dict[str, np.ndarray] = {}  # one per (layer, expert): its gate, up and down share it
    out: dict[str, Source] = {}
    for name, shape in tensor_shapes(d):
        s2, key = _as2d(shape), _key(seed, "noise", name)
        m = re.match(r"(model\.layers\.\d+\.mlp\.)(experts\.\d+\.|shared_expert\.)(\w+)\.weight$", name)
        if m:
            width = d.moe_ffn if m.group(2) != "shared_expert." else d.shared_ffn
            unit = m.group(1) + m.group(2)
            if unit not in subsets:
                subsets[unit] = rng.permutation(dense.dims.ffn)[:width]
            subset = subsets[unit]
            parent = dense.sources[m.group(1) + m.group(3) + ".weight"]
            view = View(parent, s2, col_map=subset) if m.group(3) == "down_proj" else View(parent, s2, subset)
            out[name] = noisy(view, key, rel)
        elif name in dense.sources and dense.sources[name].shape == s2:
            out[name] = noisy(dense.sources[name], key, rel)
        elif name in dense.sources:  # a longer vocabulary: shared rows copied, the rest fresh
            top = dense.sources[name]
            extra = View(fresh[name], (s2[0] - top.shape[0], s2[1]), np.arange(top.shape[0], s2[0]))
            out[name] = noisy(Stack(top, extra, s2), key, rel)
        else:
            out[name] = fresh[name]
    return VirtualModel(repo, d, out, declared)


QWEN14B = Dims(48, 5120, 40, 8, 128, 13824, 152064)
PANGU72B = Dims(48, 5120, 40, 8, 128, 0, 153376, o_bias=True, experts=64, experts_per_tok=8, moe_ffn=1344,
                shared_ffn=1344, family="pangu_pro_moe")
LLAMA7B = Dims(32, 4096, 32, 32, 128, 11008, 32000, qkv_bias=False, family="llama")
TINY = Dims(2, 64, 4, 2, 16, 176, 512)
TINY_MOGE = Dims(2, 64, 4, 2, 16, 0, 544, o_bias=True, experts=8, experts_per_tok=2, moe_ffn=32, shared_ffn=32,
                 family="pangu_pro_moe")
TINY_LLAMA = Dims(2, 64, 4, 4, 16, 160, 512, qkv_bias=False, family="llama")


def catalog(scale: str = "full") -> dict[str, VirtualModel]:
    """The benchmark's models by repo id (``scale``: full | tiny)."""
    dense, moge, llama = (QWEN14B, PANGU72B, LLAMA7B) if scale == "full" else (TINY, TINY_MOGE, TINY_LLAMA)
    tag = "" if scale == "full" else "tiny-"
    a = base_model(f"vhub/{tag}qwen2.5-14b", 1, dense, "Qwen2.5-14B layout, from scratch (seed 1)")
    b = upcycled_moge(f"vhub/{tag}pangu-moe-upcycled", a, 2, moge, 0.3,
                      "Pangu-Pro-MoE-72B layout upcycled from qwen2.5-14b (experts = neuron subsets + 30% noise)")
    c = base_model(f"vhub/{tag}pangu-moe-scratch", 3, moge, "Pangu-Pro-MoE-72B layout, from scratch (seed 3)")
    d = obfuscated(f"vhub/{tag}qwen2.5-14b-obfuscated", a, 4, 0.2,
                   "qwen2.5-14b + 20% noise, hidden channels and FFN neurons permuted")
    e = base_model(f"vhub/{tag}indep-14b", 5, dense, "Qwen2.5-14B layout, from scratch (seed 5)")
    la = base_model(f"vhub/{tag}llama-7b", 6, llama, "llama 7B layout, from scratch (seed 6)")
    lb = finetune(f"vhub/{tag}llama-7b-ft", la, 7, 0.1, "llama-7b + 10% noise")
    lc = base_model(f"vhub/{tag}llama-7b-indep", 8, llama, "llama 7B layout, from scratch (seed 8)")
    return {m.repo: m for m in (a, b, c, d, e, la, lb, lc)}


# ---------------------------------------------------------------------------------------------- files
@dataclass(frozen=True)
class Entry:
    name: str
    shape: tuple[int, ...]
    source: Source
    start: int  # absolute offset in the file
    stop: int


@dataclass
class Shard:
    """A safetensors file: its header bytes, then entries back to back."""

    name: str
    header: bytes
    entries: list[Entry]
    size: int
    starts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.starts = [e.start for e in self.entries]

    def chunks(self, lo: int, hi: int) -> Iterator[bytes]:
        """Bytes [lo, hi) in pieces of at most CHUNK_ELEMENTS elements."""
        if lo < len(self.header):
            yield self.header[lo : min(hi, len(self.header))]
            lo = len(self.header)
        i = max(0, bisect.bisect_right(self.starts, lo) - 1)
        while lo < hi and i < len(self.entries):
            e = self.entries[i]
            if e.stop > lo:
                yield from _tensor_bytes(e, max(lo, e.start) - e.start, min(hi, e.stop) - e.start)
                lo = min(hi, e.stop)
            i += 1


def _tensor_bytes(e: Entry, lo: int, hi: int) -> Iterator[bytes]:
    """bf16 bytes [lo, hi) of one tensor (offsets inside it), generating whole rows chunk by chunk."""
    n_rows, n_cols = e.source.shape
    row_bytes = 2 * n_cols
    step = max(1, CHUNK_ELEMENTS // n_cols)
    cols = np.arange(n_cols)
    r, last = lo // row_bytes, -(-hi // row_bytes)  # rows [r, last) cover the bytes asked for
    while r < last:
        r1 = min(last, r + step)
        vals = e.source.take(np.arange(r, r1), cols)
        raw = (vals.view(U32) >> U32(16)).astype(np.uint16).tobytes()
        base = r * row_bytes
        yield raw[max(lo, base) - base : min(hi, r1 * row_bytes) - base]
        r = r1


def build_files(model: VirtualModel) -> tuple[dict[str, bytes], dict[str, Shard]]:
    """Small files (config, index) as bytes, and the shards, for one model."""
    groups: list[list[tuple[str, tuple[int, ...]]]] = [[]]
    used = 0
    for name, shape in tensor_shapes(model.dims):
        nbytes = 2 * int(np.prod(shape))
        if groups[-1] and used + nbytes > SHARD_BYTES:
            groups.append([])
            used = 0
        groups[-1].append((name, shape))
        used += nbytes
    total = len(groups)
    shards: dict[str, Shard] = {}
    weight_map: dict[str, str] = {}
    size = 0
    for k, group in enumerate(groups, 1):
        fname = f"model-{k:05d}-of-{total:05d}.safetensors"
        shards[fname] = _shard(fname, group, model.sources)
        weight_map |= {n: fname for n, _ in group}
        size += sum(e.stop - e.start for e in shards[fname].entries)
    index = {"metadata": {"total_size": size}, "weight_map": weight_map}
    small = {"config.json": json.dumps(hf_config(model.dims), indent=2).encode(),
             "model.safetensors.index.json": json.dumps(index, indent=2).encode()}
    return small, shards


def _shard(fname: str, group: Sequence[tuple[str, tuple[int, ...]]], sources: dict[str, Source]) -> Shard:
    meta: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in group:
        n = 2 * int(np.prod(shape))
        meta[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(meta, separators=(",", ":")).encode()
    text += b" " * (-(len(text) + 8) % 8)
    header = len(text).to_bytes(8, "little") + text
    entries = [Entry(n, tuple(s), sources[n], len(header) + m["data_offsets"][0], len(header) + m["data_offsets"][1])
               for n, s in group for m in [meta[n]]]
    return Shard(fname, header, entries, len(header) + offset)


# ---------------------------------------------------------------------------------------------- server
@dataclass
class Repo:
    model: VirtualModel
    small: dict[str, bytes]
    shards: dict[str, Shard]
    commit: str

    def size(self, fname: str) -> int | None:
        if fname in self.small:
            return len(self.small[fname])
        return self.shards[fname].size if fname in self.shards else None

    def etag(self, fname: str) -> str:
        body = self.small.get(fname) or f"{self.commit}/{fname}/{self.size(fname)}".encode()
        return hashlib.sha256(body).hexdigest()

    def files(self) -> list[str]:
        return sorted(self.small) + sorted(self.shards)


@dataclass
class Counter:
    bytes: int = 0
    requests: int = 0


class VirtualHub:
    """The repos served and what was served from each."""

    def __init__(self, models: dict[str, VirtualModel], cdn_host: str | None = "localhost",
                 latency_s: float = 0.0) -> None:
        self.latency_s = latency_s  # added before every answer: a round trip to a distant hub
        self.repos: dict[str, Repo] = {}
        for repo, m in models.items():
            small, shards = build_files(m)
            self.repos[repo] = Repo(m, small, shards, hashlib.sha1(repo.encode()).hexdigest())
        self.cdn_host = cdn_host
        self.stats: dict[str, Counter] = {r: Counter() for r in models}
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.port = 0
        self.in_flight = 0  # requests being answered now, and the most at once since the last reset
        self.peak_in_flight = 0

    def count(self, repo: str, nbytes: int) -> None:
        with self.lock:
            self.stats[repo].bytes += nbytes
            self.stats[repo].requests += 1

    def stats_json(self) -> dict[str, Any]:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        with self.lock:
            per = {r: {"bytes": c.bytes, "requests": c.requests} for r, c in self.stats.items()}
            peak = self.peak_in_flight
        return {"repos": per, "cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_kb": ru.ru_maxrss, "peak_in_flight": peak}

    def reset(self) -> None:
        with self.lock:
            self.stats = {r: Counter() for r in self.repos}
            self.peak_in_flight = self.in_flight

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def start(self, port: int = 0) -> int:
        """Serve in a daemon thread; returns the port."""
        handler = type("Handler", (_Handler,), {"hub": self})
        self.server = _Server(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.port = int(self.server.server_address[1])
        return self.port

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up is not an error
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    hub: VirtualHub
    protocol_version = "HTTP/1.1"  # keep-alive: clients with sessions reuse connections
    # headers and body leave in separate writes; with Nagle's algorithm on, the body then waits for
    # the client's delayed ACK (~40 ms) on every kept-alive request, a delay no CDN adds
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self._route(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._route(head=False)

    def _route(self, head: bool) -> None:
        url = urlparse(self.path)
        if url.path.startswith("/_vhub/"):
            return self._answer(url, head)
        self.hub.enter()
        try:
            if self.hub.latency_s:
                time.sleep(self.hub.latency_s)
            self._answer(url, head)
        finally:
            self.hub.leave()

    def _answer(self, url: Any, head: bool) -> None:
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        if parts[:2] == ["_vhub", "stats"]:
            return self._json(self.hub.stats_json(), head)
        if parts[:2] == ["_vhub", "reset"]:
            self.hub.reset()
            return self._json({"ok": True}, head)
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            return self._api(parts[2:], parse_qs(url.query), head)
        if len(parts) >= 5 and parts[2] == "resolve":
            return self._resolve("/".join(parts[:2]), parts[3], "/".join(parts[4:]), head)
        if len(parts) >= 5 and parts[0] == "cdn":
            return self._file("/".join(parts[1:3]), "/".join(parts[4:]), head, cdn=True)
        self._error(404, "RepoNotFound", "no such endpoint")

    def _repo(self, repo: str, rev: str) -> Repo | None:
        r = self.hub.repos.get(repo)
        if r is None:
            self._error(404, "RepoNotFound", f"Repository {repo} not found")
        elif rev not in ("main", r.commit):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            return None
        return r

    def _resolve(self, repo: str, rev: str, fname: str, head: bool) -> None:
        r = self._repo(repo, rev)
        if r is None:
            return
        if fname in r.shards and self.hub.cdn_host is not None:  # LFS: redirect to the "CDN"
            host = f"{self.hub.cdn_host}:{self.hub.port}"
            self.send_response(302)
            self.send_header("Location", f"http://{host}/cdn/{repo}/{r.commit}/{fname}")
            self.send_header("X-Repo-Commit", r.commit)
            self.send_header("X-Linked-Size", str(r.size(fname)))
            self.send_header("X-Linked-Etag", f'"{r.etag(fname)}"')
            self.send_header("ETag", f'"{r.etag(fname)}"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._file(repo, fname, head, cdn=False)

    def _file(self, repo: str, fname: str, head: bool, cdn: bool) -> None:
        r = self.hub.repos.get(repo)
        size = None if r is None else r.size(fname)
        if r is None or size is None:
            return self._error(404, "EntryNotFound" if r else "RepoNotFound", f"{fname} not found")
        lo, hi, status = 0, size, 200
        ranged = self.headers.get("Range")
        if ranged:
            span = _parse_range(ranged, size)
            if span is None:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            (lo, hi), status = span, 206
        self.send_response(status)
        if not cdn:
            self.send_header("X-Repo-Commit", r.commit)
        self.send_header("ETag", f'"{r.etag(fname)}"')
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(hi - lo))
        if status == 206:
            self.send_header("Content-Range", f"bytes {lo}-{hi - 1}/{size}")
        self.end_headers()
        if head:
            return
        self.hub.count(repo, hi - lo)
        if fname in r.small:
            self.wfile.write(r.small[fname][lo:hi])
            return
        for piece in r.shards[fname].chunks(lo, hi):
            self.wfile.write(piece)

    def _api(self, parts: list[str], query: dict[str, list[str]], head: bool) -> None:
        repo, rest = "/".join(parts[:2]), parts[2:]
        rev = rest[1] if len(rest) >= 2 and rest[0] in ("revision", "tree") else "main"
        r = self._repo(repo, rev)
        if r is None:
            return
        if rest[:1] == ["tree"]:
            return self._json([_tree_item(r, f) for f in r.files()], head)
        blobs = query.get("blobs", ["false"])[0].lower() in ("1", "true")
        siblings = [_sibling(r, f) if blobs else {"rfilename": f} for f in r.files()]
        info = {"_id": r.commit[:24], "id": repo, "modelId": repo, "sha": r.commit, "private": False,
                "disabled": False, "gated": False, "downloads": 0, "likes": 0, "tags": ["safetensors"],
                "library_name": "transformers", "lastModified": "2026-01-01T00:00:00.000Z",
                "createdAt": "2026-01-01T00:00:00.000Z", "config": hf_config(r.model.dims),
                "siblings": siblings, "safetensors": {"parameters": {"BF16": r.model.params},
                                                       "total": r.model.params}}
        self._json(info, head)

    def _json(self, value: Any, head: bool) -> None:
        body = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _sibling(r: Repo, fname: str) -> dict[str, Any]:
    size = r.size(fname) or 0
    out: dict[str, Any] = {"rfilename": fname, "size": size, "blobId": r.etag(fname)[:40]}
    if fname in r.shards:
        out["lfs"] = {"size": size, "sha256": r.etag(fname), "pointerSize": 135}
    return out


def _tree_item(r: Repo, fname: str) -> dict[str, Any]:
    s = _sibling(r, fname)
    item: dict[str, Any] = {"type": "file", "oid": s["blobId"], "size": s["size"], "path": fname}
    if "lfs" in s:
        item["lfs"] = {"oid": s["lfs"]["sha256"], "size": s["size"], "pointerSize": 135}
    return item


def _parse_range(text: str, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` -> [lo, hi); None when unsatisfiable."""
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", text.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        return None
    if not m.group(1):
        lo, hi = max(0, size - int(m.group(2))), size
    else:
        lo = int(m.group(1))
        hi = min(size, int(m.group(2)) + 1) if m.group(2) else size
    return (lo, hi) if lo < hi else None


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--scale", choices=["full", "tiny"], default="full")
    ap.add_argument("--cdn-host", default="localhost", help="host name of redirects for shards ('' = none)")
    ap.add_argument("--latency-ms", type=float, default=0.0, help="wait this long before every answer")
    args = ap.parse_args()
    hub = VirtualHub(catalog(args.scale), cdn_host=args.cdn_host or None, latency_s=args.latency_ms / 1e3)
    port = hub.start(args.port)
    for repo, r in hub.repos.items():
        total = sum(s.size for s in r.shards.values())
        print(f"REPO {repo} {len(r.shards)} shards {total} bytes {r.model.params} params", flush=True)
    print(f"PORT {port}", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
