"""Mutation fuzzing of every parser heredity runs on hostile input.

Each *target* builds a few seed inputs (files written by real writers here, the bundled real models
where small, and crafted hostile files), then feeds the parser mutated copies: bit flips, byte
inserts and deletes, splices between seeds, integer-boundary values written over header bytes, and
numbers or strings swapped inside JSON.  The mutator is a seeded ``random.Random``: the same
``--seed`` gives the same inputs.  An input that parses is kept (up to a bound) as a seed for later
mutations, a cheap way to get past the first checks.

A *finding* is any exception that is not one of heredity's own errors (:mod:`heredity.errors`), a
Python warning (warnings are errors here, as in the tests), or an input that takes longer than
``--slow`` seconds (one over ``--timeout`` is interrupted).  The first input of each distinct finding
(exception type + innermost heredity frame) is saved under ``--crashers``; ``tests/fuzz`` replays
every file there.

    python benchmarks/fuzz.py [--targets safetensors,gguf,...] [--count N] [--seconds S] [--seed 0]
                              [--crashers DIR] [--json]

``--count`` and ``--seconds`` are per target; whichever is reached first stops it.  Run it in one
process: it is single-threaded on purpose (BLAS and torch are limited to one thread).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from heredity.errors import HeredityError  # noqa: E402

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "realmodels"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "models"
MAX_POOL = 48  # seeds kept per target (the originals plus inputs that parsed)
MAX_READ_NUMEL = 1 << 20  # tensors read whole by the exercise step; larger ones only their first row

# -- the mutator ------------------------------------------------------------------------------

BOUNDARY = (0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 511, 512, 1023, 1024, 4095,
            4096, 32767, 32768, 65535, 65536, (1 << 24), (1 << 31) - 1, 1 << 31, (1 << 32) - 1, 1 << 32,
            (1 << 53) + 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1)
JSON_NUMBERS = (b"0", b"-1", b"1", b"-0", b"2", b"255", b"65536", b"4294967296", b"9223372036854775807",
                b"18446744073709551616", b"1e309", b"-1e309", b"1.5", b"99999999999999999999999999", b"NaN",
                b"Infinity", b"null", b"true", b"[]", b"{}", b'""', b"[1,2]", b"[-1]", b'"1"')
JSON_STRINGS = (b'""', b'"."', b'".."', b'"../x"', b'"/etc/passwd"', b'"a/../../b"', b'"\\u0000"',
                b'"' + b"A" * 300 + b'"', b'"model.safetensors"', b'"__metadata__"', b'"BF16"', b'"F8_E4M3"',
                b'"I64"', b'"weight_map"', b'"llama"', b'"LlamaForCausalLM"', b'"\\ud800"', b'"\\u202e"',
                b'"embed"', b'"attn_norm@0"', b'"rows/embed"', b"1", b"null", b"[]", b"{}")
_DIGITS = re.compile(rb"-?\d+(\.\d+)?([eE][-+]?\d+)?")
_STRING = re.compile(rb'"(?:[^"\\\n]|\\.){0,64}"')


def _position(rng: random.Random, n: int) -> int:
    """Half the time within the first 4 KiB (where headers live), else anywhere."""
    if n <= 0:
        return 0
    return rng.randrange(min(n, 4096)) if rng.random() < 0.5 else rng.randrange(n)


def _int_bytes(rng: random.Random) -> bytes:
    value = rng.choice(BOUNDARY) + rng.choice((0, 0, 0, -1, 1))
    width = rng.choice((1, 2, 4, 8, 8))
    value %= 1 << (8 * width)
    return value.to_bytes(width, "little" if rng.random() < 0.9 else "big")


def _sub_regex(buf: bytearray, rng: random.Random, pattern: re.Pattern[bytes], choices: tuple[bytes, ...]) -> None:
    start = _position(rng, len(buf))
    window = bytes(buf[start:start + 4096])
    matches = list(pattern.finditer(window))
    if matches:
        m = rng.choice(matches)
        buf[start + m.start():start + m.end()] = rng.choice(choices)


def mutate(data: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    """One to six stacked mutations of ``data`` (deterministic given ``rng``'s state)."""
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4, 6))):
        op, n = rng.randrange(10), len(buf)
        p = _position(rng, n)
        if op == 0 and n:  # flip 1..8 bits
            for _ in range(rng.randint(1, 8)):
                q = _position(rng, n)
                buf[q] ^= 1 << rng.randrange(8)
        elif op == 1 and n:  # a random byte
            buf[p] = rng.randrange(256)
        elif op == 2:  # insert random bytes
            buf[p:p] = rng.randbytes(rng.choice((1, 1, 2, 4, 8, 32)))
        elif op == 3 and n:  # delete a range
            del buf[p:p + rng.choice((1, 1, 2, 4, 8, 64, 512))]
        elif op == 4:  # splice a chunk of another seed in (overwrite or insert)
            other = rng.choice(pool)
            if other:
                a = _position(rng, len(other))
                chunk = other[a:a + rng.choice((4, 16, 64, 256, 4096))]
                if rng.random() < 0.5:
                    buf[p:p + len(chunk)] = chunk
                else:
                    buf[p:p] = chunk
        elif op == 5:  # an integer-boundary value over header bytes
            value = _int_bytes(rng)
            buf[p:p + len(value)] = value
        elif op == 6:  # a JSON number swapped
            _sub_regex(buf, rng, _DIGITS, JSON_NUMBERS)
        elif op == 7:  # a JSON string swapped
            _sub_regex(buf, rng, _STRING, JSON_STRINGS)
        elif op == 8:  # truncate
            del buf[p:]
        elif op == 9 and n:  # duplicate a chunk
            chunk = buf[p:p + rng.choice((1, 8, 64, 1024))]
            buf[p:p] = chunk
    return bytes(buf)


# -- targets ----------------------------------------------------------------------------------


@dataclass
class Target:
    """A parser under test: ``prepare(work)`` writes companion files and returns the seeds;
    ``run(data, work)`` feeds one input (raising HeredityError is a clean refusal)."""

    name: str
    prepare: Callable[[Path], list[bytes]]
    run: Callable[[bytes, Path], None]


def exercise(ckpt: Any) -> None:
    """Touch what a comparison touches: the inventory, then rows and whole tensors."""
    with ckpt:
        for name in list(ckpt.tensors)[:64]:
            info = ckpt.tensors[name]
            if info.shape and info.shape[0] > 0:
                ckpt.read(name, rows=slice(0, 1))
            if info.numel <= MAX_READ_NUMEL:
                ckpt.read(name)


def _tiny_llama(seed: int = 0, layers: int = 2) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    rng = np.random.default_rng(seed)
    h, f, v = 8, 16, 32
    arrays = {"model.embed_tokens.weight": rng.normal(size=(v, h)), "model.norm.weight": rng.normal(size=h),
              "lm_head.weight": rng.normal(size=(v, h))}
    for i in range(layers):
        pre = f"model.layers.{i}."
        for name, shape in (("self_attn.q_proj", (h, h)), ("self_attn.k_proj", (4, h)), ("self_attn.v_proj", (4, h)),
                            ("self_attn.o_proj", (h, h)), ("mlp.gate_proj", (f, h)), ("mlp.up_proj", (f, h)),
                            ("mlp.down_proj", (h, f))):
            arrays[pre + name + ".weight"] = rng.normal(size=shape)
        arrays[pre + "input_layernorm.weight"] = 1 + 0.1 * rng.normal(size=h)
        arrays[pre + "post_attention_layernorm.weight"] = 1 + 0.1 * rng.normal(size=h)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": h,
              "intermediate_size": f, "num_hidden_layers": layers, "num_attention_heads": 2,
              "num_key_value_heads": 1, "vocab_size": v, "rms_norm_eps": 1e-5, "tie_word_embeddings": False,
              "max_position_embeddings": 64, "rope_theta": 10000.0}
    return {k: a.astype(np.float32) for k, a in arrays.items()}, config


def _file_target(name: str, suffix: str) -> Callable[[bytes, Path], None]:
    def run(data: bytes, work: Path) -> None:
        from heredity.checkpoint import open_checkpoint

        path = work / f"fuzz{suffix}"
        path.write_bytes(data)
        exercise(open_checkpoint(path))

    return run


def _prep_safetensors(work: Path) -> list[bytes]:
    import ml_dtypes

    from heredity.checkpoint.writers import save_safetensors

    arrays, _ = _tiny_llama()
    seeds = []
    for i, dtype in enumerate((None, "F16", "BF16")):
        save_safetensors(arrays, work / f"s{i}.safetensors", metadata={"format": "pt"}, dtype=dtype)
    odd = {"scalar": np.array(3.0, np.float32), "empty": np.zeros((0, 4), np.float32),
           "i8": np.arange(-8, 8, dtype=np.int8).reshape(4, 4), "b": np.ones(3, bool),
           "f8": np.ones((2, 2), ml_dtypes.float8_e4m3fn), "f64": np.ones(3)}
    save_safetensors(odd, work / "s3.safetensors")
    seeds = [(work / f"s{i}.safetensors").read_bytes() for i in range(4)]
    seeds += [p.joinpath("model.safetensors").read_bytes() for p in sorted(EXAMPLES.glob("*"))[:1]]
    header = json.dumps({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    seeds.append(struct.pack("<Q", len(header)) + header + bytes(8))  # crafted: minimal
    return seeds


def _prep_shards(work: Path) -> list[bytes]:
    from heredity.checkpoint.writers import save_hf_folder

    arrays, config = _tiny_llama()
    folder = save_hf_folder(arrays, config, work / "sharded", max_shard_bytes=1500)
    index = (folder / "model.safetensors.index.json").read_bytes()
    doc = json.loads(index)
    first = sorted(set(doc["weight_map"].values()))[0]
    escaping = dict(doc, weight_map={k: "../" + first for k in doc["weight_map"]})
    return [index, json.dumps(escaping).encode(), json.dumps({"weight_map": {}}).encode()]


def _run_shards(data: bytes, work: Path) -> None:
    from heredity.checkpoint import open_checkpoint

    folder = work / "sharded"
    (folder / "model.safetensors.index.json").write_bytes(data)
    exercise(open_checkpoint(folder))


def _prep_gguf(work: Path) -> list[bytes]:
    from heredity.checkpoint.gguf_writer import save_gguf

    arrays, config = _tiny_llama()
    arrays = {k: np.repeat(a, 4, axis=-1) if a.ndim == 2 else np.repeat(a, 4) for k, a in arrays.items()}
    config = dict(config, hidden_size=32, intermediate_size=64)
    seeds = []
    for qtype in ("F32", "F16", "Q8_0"):
        seeds.append(save_gguf(arrays, config, work / f"g-{qtype}.gguf", qtype=qtype).read_bytes())
    return seeds


def _llama2c_bytes(shared: bool, seed: int = 0) -> bytes:
    from heredity.checkpoint.llama2c_reader import Llama2cHeader, layout

    h = Llama2cHeader(dim=8, hidden_dim=16, n_layers=2, n_heads=2, n_kv_heads=1, vocab_size=16, seq_len=8,
                      shared_classifier=shared)
    rng = np.random.default_rng(seed)
    body = b"".join(rng.normal(size=shape).astype(np.float32).tobytes() for _, shape in layout(h))
    vocab = h.vocab_size if shared else -h.vocab_size
    return struct.pack("<7i", h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, vocab, h.seq_len) + body


def _prep_llama2c(work: Path) -> list[bytes]:
    seeds = [_llama2c_bytes(True), _llama2c_bytes(False, 1)]
    if (REAL / "stories260K.bin").exists():
        seeds.append((REAL / "stories260K.bin").read_bytes())
    return seeds


def _prep_onnx(work: Path) -> list[bytes]:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=(8, 4)).astype(np.float32), "model.w32"),
             numpy_helper.from_array(rng.normal(size=(4, 4)).astype(np.float16), "model.w16"),
             numpy_helper.from_array(rng.integers(-128, 127, size=(6, 4), dtype=np.int8), "model.q_quantized"),
             numpy_helper.from_array(np.linspace(0.01, 0.06, 6, dtype=np.float32), "model.q_scale"),
             numpy_helper.from_array(np.arange(6, dtype=np.int8) - 3, "model.q_zero_point"),
             numpy_helper.from_array(np.array([1, 2], np.int64), "shape_const")]
    nodes = [helper.make_node("DequantizeLinear", ["model.q_quantized", "model.q_scale", "model.q_zero_point"],
                              ["q"], axis=0), helper.make_node("MatMul", ["x", "model.w32"], ["h"])]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, 4]),
                               helper.make_tensor_value_info("q", TensorProto.FLOAT, [6, 4])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    inline = model.SerializeToString()
    onnx.save_model(model, str(work / "ext.onnx"), save_as_external_data=True, location="weights.bin",
                    size_threshold=0)
    from heredity.testing.onnx_export import export  # graphs whose roles come from the nodes

    graphs = [export(arch, style, layers=1, hidden=8, ffn=16, heads=2, vocab=12).model.SerializeToString()
              for arch, style in (("bert", "int8"), ("llama", "anonymous"), ("gpt2", "qdq"))]
    return [inline, (work / "ext.onnx").read_bytes(), *graphs]  # weights.bin stays beside fuzz.onnx


def _prep_torch(work: Path) -> list[bytes]:
    import pickle

    import torch

    torch.set_num_threads(1)
    arrays, _ = _tiny_llama()
    sd = {k: torch.from_numpy(v) for k, v in list(arrays.items())[:6]}
    seeds = []
    for i, (obj, zipped) in enumerate(((sd, True), (sd, False), ({"model": sd, "model_args": {"dim": 8}}, True))):
        torch.save(obj, work / f"t{i}.pt", _use_new_zipfile_serialization=zipped)
        seeds.append((work / f"t{i}.pt").read_bytes())

    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, ("echo pwned",))

    seeds.append(pickle.dumps({"w": Evil()}, protocol=2))  # crafted: a code-running pickle (never loaded)
    if (REAL / "llama2xs" / "ckpt.pt").exists():
        seeds.append((REAL / "llama2xs" / "ckpt.pt").read_bytes())
    return seeds


def _prep_config(work: Path) -> list[bytes]:
    from heredity.checkpoint.writers import save_hf_folder

    arrays, config = _tiny_llama()
    save_hf_folder(arrays, config, work / "cfg")
    seeds = [json.dumps(config).encode()]
    seeds.append(json.dumps(dict(config, model_type="qwen2", architectures=["Qwen2ForCausalLM"])).encode())
    seeds.append(json.dumps(dict(config, model_type="mixtral", num_local_experts=4, num_experts_per_tok=2)).encode())
    seeds.append(json.dumps(dict(config, model_type="gemma3", architectures=["Gemma3ForCausalLM"])).encode())
    seeds += [p.joinpath("config.json").read_bytes() for p in sorted(EXAMPLES.glob("*"))]
    return seeds


def _run_config(data: bytes, work: Path) -> None:
    from heredity.inspect import inspect_model
    from heredity.layouts import load_model

    (work / "cfg" / "config.json").write_bytes(data)
    model = load_model(work / "cfg")
    with model.checkpoint:
        inspect_model(model).to_dict()
        for ref in model.refs[:8]:
            model.load(ref)


def _prep_fingerprint(work: Path) -> list[bytes]:
    from heredity import fingerprint
    from heredity.checkpoint.writers import save_hf_folder
    from heredity.layouts import load_model

    arrays, config = _tiny_llama()
    save_hf_folder(arrays, config, work / "fpmodel")
    fp = fingerprint.extract(load_model(work / "fpmodel"))
    written = fingerprint.save(fp, work / "seed.fp")
    return [written.read_bytes()]


def _run_fingerprint(data: bytes, work: Path) -> None:
    from heredity import fingerprint
    from heredity.compare import compare
    from heredity.evidence.identical import IdenticalTest
    from heredity.evidence.vectors import VectorsTest

    path = work / "fuzz.fp"
    path.write_bytes(data)
    loaded = fingerprint.load(path)
    compare(loaded, loaded, tests=[IdenticalTest(), VectorsTest()], thorough=True)  # cheap consumers of the parsed fields


def _prep_tokenizer(work: Path) -> list[bytes]:
    """tokenizer.json files next to a tiny safetensors model: a BPE vocabulary with added tokens, and a
    Unigram one (its ids are positions)."""
    from heredity.checkpoint.writers import save_hf_folder

    arrays, config = _tiny_llama()
    save_hf_folder(arrays, config, work / "tok")
    vocab = {f"tok{i}": i for i in range(40)} | {"\u0120the": 40, "<s>": 41}
    bpe = {"version": "1.0", "model": {"type": "BPE", "vocab": vocab, "merges": ["t o", "to k"]},
           "added_tokens": [{"id": 42, "content": "<pad>", "special": True}]}
    unigram = {"model": {"type": "Unigram", "vocab": [[f"u{i}", -float(i)] for i in range(30)]}}
    return [json.dumps(bpe).encode(), json.dumps(unigram).encode()]


def _run_tokenizer(data: bytes, work: Path) -> None:
    from heredity.checkpoint import open_checkpoint
    from heredity.checkpoint.tokens import tokens

    (work / "tok" / "tokenizer.json").write_bytes(data)
    with open_checkpoint(work / "tok") as ck:
        tokens(ck)


def _prep_gguf_tokens(work: Path) -> list[bytes]:
    """GGUF files whose metadata holds a token list (read by the `embeddings` test's pairing)."""
    import gguf

    seeds = []
    for n, extra in ((20, False), (300, True)):
        path = work / f"tok{n}.gguf"
        writer = gguf.GGUFWriter(str(path), "llama")
        if extra:
            writer.add_name("fuzz")
        writer.add_token_list([f"t{i}".encode() for i in range(n)])
        writer.add_tensor("token_embd.weight", np.zeros((n, 8), np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        seeds.append(path.read_bytes())
    return seeds


def _run_gguf_tokens(data: bytes, work: Path) -> None:
    from heredity.checkpoint.tokens import gguf_tokens

    path = work / "fuzz.gguf"
    path.write_bytes(data)
    gguf_tokens(path)


TARGETS = {t.name: t for t in (
    Target("safetensors", _prep_safetensors, _file_target("safetensors", ".safetensors")),
    Target("shard-index", _prep_shards, _run_shards),
    Target("gguf", _prep_gguf, _file_target("gguf", ".gguf")),
    Target("llama2c", _prep_llama2c, _file_target("llama2c", ".bin")),
    Target("onnx", _prep_onnx, _file_target("onnx", ".onnx")),
    Target("torch", _prep_torch, _file_target("torch", ".pt")),
    Target("config", _prep_config, _run_config),
    Target("fingerprint", _prep_fingerprint, _run_fingerprint),
    Target("tokenizer", _prep_tokenizer, _run_tokenizer),
    Target("gguf-tokens", _prep_gguf_tokens, _run_gguf_tokens),
)}

# -- the runner -------------------------------------------------------------------------------


class InputTimeout(Exception):
    """Raised by the alarm when one input runs past ``--timeout``."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    def fire(signum: int, frame: Any) -> None:
        raise InputTimeout(f"input ran past {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Finding:
    target: str
    kind: str  # "crash" or "slow"
    signature: str
    message: str
    input_index: int
    seconds: float
    file: str = ""


@dataclass
class TargetStats:
    target: str
    inputs: int = 0
    parsed: int = 0  # accepted as valid
    refused: int = 0  # a HeredityError
    crashes: int = 0
    slow: int = 0
    seconds: float = 0.0
    max_input_s: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.inputs / self.seconds if self.seconds else 0.0


def signature(exc: BaseException) -> str:
    """Exception type plus the innermost frame inside heredity (else the innermost frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/heredity/" in f.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(exc).__name__}@{where}"


def run_one(target: Target, data: bytes, work: Path, timeout: float) -> tuple[bool, BaseException | None]:
    """Feed one input: (refused with a HeredityError, the other exception it raised or None)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with deadline(timeout):
                target.run(data, work)
    except HeredityError:
        return True, None
    except (InputTimeout, Exception) as exc:
        return False, exc
    return False, None


def fuzz_target(target: Target, *, count: int, seconds: float, seed: int, crashers: Path | None,
                slow_s: float = 1.0, timeout: float = 10.0) -> TargetStats:
    stats = TargetStats(target.name)
    rng = random.Random(f"{seed}:{target.name}")
    seen: set[str] = set()
    with tempfile.TemporaryDirectory(prefix=f"heredity-fuzz-{target.name}-") as tmp:
        work = Path(tmp)
        originals = target.prepare(work)
        pool = list(originals)
        for data in originals:  # warm up (lazy imports, caches) outside the timed loop
            run_one(target, data, work, timeout)
        start = time.perf_counter()
        while stats.inputs < count and time.perf_counter() - start < seconds:
            data = mutate(rng.choice(pool), rng, pool)
            t0 = time.perf_counter()
            refused, exc = run_one(target, data, work, timeout)
            dt = time.perf_counter() - t0
            stats.inputs += 1
            stats.max_input_s = max(stats.max_input_s, dt)
            if exc is not None:
                stats.crashes += 1
                _record(stats, "crash", signature(exc), f"{type(exc).__name__}: {str(exc)[:300]}", data, dt,
                        seen, crashers)
            elif refused:
                stats.refused += 1
            else:
                stats.parsed += 1
                if len(pool) < MAX_POOL:
                    pool.append(data)
                else:
                    pool[len(originals) + rng.randrange(MAX_POOL - len(originals))] = data
            if dt > slow_s and exc is None:
                stats.slow += 1
                _record(stats, "slow", f"slow@{target.name}", f"{dt:.2f} s", data, dt, seen, crashers)
        stats.seconds = time.perf_counter() - start
    return stats


def _record(stats: TargetStats, kind: str, sig: str, message: str, data: bytes, dt: float, seen: set[str],
            crashers: Path | None) -> None:
    if sig in seen:
        return
    seen.add(sig)
    finding = Finding(stats.target, kind, sig, message, stats.inputs - 1, round(dt, 3))
    if crashers is not None:
        crashers.mkdir(parents=True, exist_ok=True)
        name = f"{stats.target}-{kind}-{hashlib.sha256(data).hexdigest()[:12]}.bin"
        (crashers / name).write_bytes(data)
        finding.file = name
    stats.findings.append(finding)
    print(f"  {kind}: {stats.target}: {sig}: {message[:200]}", file=sys.stderr, flush=True)


def _limit_memory(gb: float) -> None:
    """Cap the address space at what is mapped now plus ``gb`` GiB: a parser that allocates what a
    header claims then fails with MemoryError (a finding) instead of swapping the machine."""
    import resource

    with open("/proc/self/statm") as f:
        vm_bytes = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = vm_bytes + int(gb * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated: " + ", ".join(TARGETS))
    parser.add_argument("--count", type=int, default=10_000, help="inputs per target (upper bound)")
    parser.add_argument("--seconds", type=float, default=60.0, help="time per target (upper bound)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slow", type=float, default=1.0, help="report inputs slower than this (s)")
    parser.add_argument("--timeout", type=float, default=10.0, help="interrupt an input after this (s)")
    parser.add_argument("--crashers", type=Path, default=None, help="save each finding's first input here")
    parser.add_argument("--mem-gb", type=float, default=4.0, help="address-space headroom (GiB)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown targets {unknown}; choose from {list(TARGETS)}")
    import torch  # imported before the memory cap (it maps a lot at import)

    torch.set_num_threads(1)
    import onnx  # noqa: F401

    _limit_memory(args.mem_gb)
    results = []
    for name in names:
        stats = fuzz_target(TARGETS[name], count=args.count, seconds=args.seconds, seed=args.seed,
                            crashers=args.crashers, slow_s=args.slow, timeout=args.timeout)
        results.append(stats)
        print(f"{name:12} {stats.inputs:>9} inputs in {stats.seconds:8.1f} s ({stats.rate:7.0f}/s): "
              f"{stats.parsed} parsed, {stats.refused} refused, {stats.crashes} crashes, {stats.slow} slow, "
              f"slowest {stats.max_input_s:.3f} s", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps([{**{k: v for k, v in vars(s).items() if k != "findings"}, "rate": round(s.rate, 1),
                           "findings": [vars(f) for f in s.findings]} for s in results], indent=1))
    return 1 if any(s.crashes or s.slow for s in results) else 0


if __name__ == "__main__":
    sys.exit(main())
