"""Peak resident memory of ``heredity compare``, ``fingerprint`` and ``matrix``, each as its own process.

Two sets of models: the bundled examples (examples/models), and a mid-size llama layout written
under ``--dir`` (8 layers, hidden 2048, ffn 5632, 16 heads / 4 KV heads, vocab 32000, bf16, HF names;
about 0.9 GB each): A, B = a fine-tune of A (A plus 10 % noise) and C, independent of A; ``compare A A``
stands for an exact copy (every tensor is then hashed whole by `identical`).  Tensors are
generated and written one at a time, so the generator itself stays small.

Peak RSS comes from ``/usr/bin/time -v`` ("Maximum resident set size") when it exists, else from the
child's ``ru_maxrss``; wall seconds beside it.

    python benchmarks/memory.py [--dir /tmp/heredity-mem] [--layers 8] [--skip-mid] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "models"
HIDDEN, FFN, HEADS, KV_HEADS, VOCAB = 2048, 5632, 16, 4, 32000
HEAD_DIM = HIDDEN // HEADS


def layout(layers: int) -> list[tuple[str, tuple[int, ...]]]:
    """HF llama tensor names and shapes, in storage order."""
    kv = KV_HEADS * HEAD_DIM
    out: list[tuple[str, tuple[int, ...]]] = [("model.embed_tokens.weight", (VOCAB, HIDDEN))]
    for i in range(layers):
        p = f"model.layers.{i}."
        out += [
            (p + "input_layernorm.weight", (HIDDEN,)),
            (p + "self_attn.q_proj.weight", (HIDDEN, HIDDEN)),
            (p + "self_attn.k_proj.weight", (kv, HIDDEN)),
            (p + "self_attn.v_proj.weight", (kv, HIDDEN)),
            (p + "self_attn.o_proj.weight", (HIDDEN, HIDDEN)),
            (p + "post_attention_layernorm.weight", (HIDDEN,)),
            (p + "mlp.gate_proj.weight", (FFN, HIDDEN)),
            (p + "mlp.up_proj.weight", (FFN, HIDDEN)),
            (p + "mlp.down_proj.weight", (HIDDEN, FFN)),
        ]
    return [*out, ("model.norm.weight", (HIDDEN,)), ("lm_head.weight", (VOCAB, HIDDEN))]


def config(layers: int) -> dict[str, object]:
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": HIDDEN,
        "intermediate_size": FFN, "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS,
        "num_hidden_layers": layers, "vocab_size": VOCAB, "head_dim": HEAD_DIM, "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    }  # fmt: skip


def to_bf16_bytes(x: np.ndarray) -> bytes:
    """float32 -> bfloat16 bits, rounded to nearest even (finite inputs)."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32)
    rounded = (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    return rounded.astype(np.uint16).tobytes()


def values(name: str, shape: tuple[int, ...], seed: int, noise_of: int | None) -> np.ndarray:
    """A tensor of model ``seed`` (norms near 1, matrices N(0, 0.02)); with ``noise_of``, that
    model's tensor plus 10 % independent noise (a fine-tune)."""
    if noise_of is not None:
        base = values(name, shape, noise_of, None)
        rng = np.random.default_rng([seed, 1 << 20, zlib.crc32(name.encode())])
        return base + 0.1 * base.std() * rng.standard_normal(shape, np.float32)
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    if len(shape) == 1:
        return (1.0 + 0.05 * rng.standard_normal(shape, np.float32)).astype(np.float32)
    return rng.standard_normal(shape, np.float32) * np.float32(0.02)


def write_model(folder: Path, layers: int, seed: int, noise_of: int | None = None) -> None:
    """One bf16 safetensors file, tensor by tensor (header first: every size is known)."""
    folder.mkdir(parents=True, exist_ok=True)
    entries, offset = {}, 0
    for name, shape in layout(layers):
        nbytes = 2 * int(np.prod(shape))
        entries[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    header = json.dumps({"__metadata__": {"format": "pt"}, **entries}).encode()
    header += b" " * (-len(header) % 8)
    with open(folder / "model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        for name, shape in layout(layers):
            f.write(to_bf16_bytes(values(name, shape, seed, noise_of)))
    (folder / "config.json").write_text(json.dumps(config(layers)))


def measure(args: list[str]) -> tuple[float, float, int, str]:
    """(peak RSS MB, wall s, exit code, stdout) of ``heredity ARGS`` as a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "heredity.cli.main", *args]
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    t0 = time.perf_counter()
    if timer:
        proc = subprocess.run([timer, "-v", *cmd], env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        line = next(x for x in proc.stderr.splitlines() if "Maximum resident set size" in x)
        return int(line.rsplit(":", 1)[1]) / 1024, wall, proc.returncode, proc.stdout
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return peak, wall, proc.returncode, proc.stdout


def run_set(label: str, a: Path, b: Path, c: Path, scratch: Path) -> None:
    jobs = {
        "compare A B": ["compare", str(a), str(b), "--format", "json", "-q"],
        "compare A C": ["compare", str(a), str(c), "--format", "json", "-q"],
        "compare A A": ["compare", str(a), str(a), "--format", "json", "-q"],  # a copy: `identical` hashes all
        "fingerprint A": ["fingerprint", str(a), "-o", str(scratch / f"{label}-fp"), "-q"],
        "matrix A B C": ["matrix", str(a), str(b), str(c), "--format", "json", "-q"],
    }
    for job, argv in jobs.items():
        rss, wall, code, stdout = measure(argv)
        verdict = json.loads(stdout).get("verdict", "") if job.startswith("compare") and code == 0 else ""
        print(f"{label:9s} {job:14s} peak RSS {rss:7.0f} MB  wall {wall:6.1f} s  exit {code}  {verdict}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/heredity-mem"))
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--skip-mid", action="store_true", help="only the bundled examples")
    ap.add_argument("--keep", action="store_true", help="keep the generated models for another run")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    try:
        ex = [EXAMPLES / n for n in ("qwen2-base", "qwen2-moge-upcycled", "moge-scratch")]
        run_set("examples", *ex, scratch=args.dir)
        if args.skip_mid:
            return
        models = {"A": (0, None), "B": (1, 0), "C": (2, None)}
        for tag, (seed, noise_of) in models.items():
            if not (args.dir / tag / "model.safetensors").exists():
                t0 = time.perf_counter()
                write_model(args.dir / tag, args.layers, seed, noise_of)
                print(f"wrote {args.dir / tag} in {time.perf_counter() - t0:.0f} s", flush=True)
        size = (args.dir / "A" / "model.safetensors").stat().st_size / 1e9
        print(f"mid-size models: {args.layers} layers, {size:.2f} GB bf16 each")
        run_set("mid-size", *(args.dir / t for t in models), scratch=args.dir)
        print(f"load average (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        if not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
