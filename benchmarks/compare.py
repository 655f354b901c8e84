"""Benchmark `heredity.compare` on large layouts written to disk: seconds per test and bytes read.

1. A 7B-class llama layout (hidden 4096, intermediate 11008, 32 heads, vocab 32000) with few layers,
   bf16 safetensors: A, B = a fine-tune of A (A + 10% noise), C = independent.  Every test on A-B and A-C.
2. A 72B-class Pangu Pro MoE layout (hidden 5120, 48 layers, 64 experts in 8 groups, vocab 153376),
   `vectors` only, on an independent pair and on A vs A + 30 % noise.  The file is the full-size safetensors layout (~145 GB of bf16 as declared in the
   header), but matrices are *holes*: the writer seeks past them, so the file is sparse and costs disk
   only for the header and the vectors; the readers only ever touch the vectors.  bytes_read shows it.

Tensor names and configs come from :func:`heredity.synth.make_checkpoint` at tiny size, scaled up by
mapping each tiny dimension value to its full-size value (the tiny values are chosen distinct).

    python benchmarks/compare.py [--layers 2] [--dir /tmp/heredity-bench] [--skip-7b] [--skip-72b] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import time
from collections.abc import Callable
from pathlib import Path

import ml_dtypes
import numpy as np

from heredity.compare import compare
from heredity.synth import make_checkpoint

Shape = tuple[int, ...]
Filler = Callable[[str, Shape], np.ndarray | None]  # None: leave a hole (zeros, sparse)


def scaled_layout(family: str, tiny: dict[str, int], big: dict[int, int], layers: int,
                  config_big: dict[str, int]) -> tuple[dict[str, object], list[tuple[str, Shape]]]:
    """Names and full-size shapes: a one-layer tiny synth model, dims mapped through ``big``."""
    ck = make_checkpoint(family, layers=1, **tiny)
    entries: list[tuple[str, Shape]] = []
    experts = big.get(tiny.get("experts", 0), 0)
    for name, info in ck.tensors.items():
        shape = tuple(big.get(d, d) for d in info.shape)
        if ".experts." in name and ".experts.0." not in name:
            continue
        if ".experts.0." in name:
            entries += [e for x in range(experts) for e in _per_layer(name.replace(".experts.0.", f".experts.{x}."),
                                                                     shape, layers)]
        elif ".layers.0." in name:
            entries += [(name.replace(".layers.0.", f".layers.{i}."), shape) for i in range(layers)]
        else:
            entries.append((name, shape))
    config = dict(ck.config) | config_big | {"num_hidden_layers": layers}
    return config, entries


def _per_layer(name: str, shape: Shape, layers: int) -> list[tuple[str, Shape]]:
    return [(name.replace(".layers.0.", f".layers.{i}."), shape) for i in range(layers)]


def write_safetensors(path: Path, entries: list[tuple[str, Shape]], fill: Filler) -> int:
    """Stream a bf16 safetensors file tensor by tensor; returns bytes actually written."""
    header: dict[str, object] = {}
    offset = 0
    for name, shape in entries:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    written = 0
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        base = fh.tell()
        for name, shape in entries:
            data = fill(name, shape)
            start = base + header[name]["data_offsets"][0]  # type: ignore[index]
            if data is not None:
                fh.seek(start)
                fh.write(np.ascontiguousarray(data.astype(ml_dtypes.bfloat16)).tobytes())
                written += data.size * 2
        fh.truncate(base + offset)
    return written


def trained_like(seed: int, derive_from: int | None = None, noise: float = 0.1) -> Filler:
    """Random weights with non-constant norms; ``derive_from`` gives that model plus relative noise."""
    def fill(name: str, shape: Shape) -> np.ndarray:
        key = sum(map(ord, name)) * 7919 + len(name)
        base = _tensor(derive_from if derive_from is not None else seed, key, name, shape)
        if derive_from is None:
            return base
        rng = np.random.default_rng([seed, key])
        return base + rng.standard_normal(shape, dtype=np.float32) * np.float32(noise * float(base.std()))
    return fill


def _tensor(seed: int, key: int, name: str, shape: Shape) -> np.ndarray:
    rng = np.random.default_rng([seed, key])
    x = rng.standard_normal(shape, dtype=np.float32)
    if len(shape) == 1 or "norm" in name:
        return (1.0 + 0.2 * x).astype(np.float32)
    return x * np.float32(0.02)


def sparse_vectors(seed: int, derive_from: int | None = None) -> Filler:
    """Only small tensors (vectors, router scales) get values; matrices are left as holes."""
    dense = trained_like(seed, derive_from=derive_from, noise=0.3)

    def fill(name: str, shape: Shape) -> np.ndarray | None:
        return None if int(np.prod(shape)) > 1_000_000 else dense(name, shape)
    return fill


REUSE = False  # --reuse: keep model files an earlier run wrote


def make_model(folder: Path, config: dict[str, object], entries: list[tuple[str, Shape]], fill: Filler) -> int:
    if REUSE and (folder / "model.safetensors").is_file():
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    return write_safetensors(folder / "model.safetensors", entries, fill)


def run(a: Path, b: Path, tests: list[str] | None) -> dict[str, object]:
    start = time.perf_counter()
    c = compare(a, b, tests=tests)
    return {
        "verdict": c.verdict.label, "p_value": c.verdict.p_value, "seconds": round(time.perf_counter() - start, 2),
        "bytes_read": dict(c.bytes_read),
        "tests": {e.test: {"seconds": round(e.seconds, 2), "p_value": e.p_value, "applicable": e.applicable,
                           "tensors_read_a": len(e.detail.get("tensors_read", {}).get("a", []))}
                  for e in c.evidence},
    }


def bench_7b(root: Path, layers: int) -> dict[str, object]:
    tiny = {"hidden": 96, "heads": 6, "kv_heads": 6, "intermediate": 200, "vocab": 312}
    big = {96: 4096, 200: 11008, 312: 32000}
    cfg = {"hidden_size": 4096, "intermediate_size": 11008, "num_attention_heads": 32,
           "num_key_value_heads": 32, "head_dim": 128, "vocab_size": 32000}
    config, entries = scaled_layout("llama", tiny, big, layers, cfg)
    t0 = time.perf_counter()
    for name, fill in (("A", trained_like(1)), ("B", trained_like(2, derive_from=1)), ("C", trained_like(3))):
        make_model(root / f"7b-{name}", config, entries, fill)
    out: dict[str, object] = {"write_seconds": round(time.perf_counter() - t0, 1), "layers": layers,
                              "file_bytes": (root / "7b-A" / "model.safetensors").stat().st_size}
    out["related A-B"] = run(root / "7b-A", root / "7b-B", None)
    out["independent A-C"] = run(root / "7b-A", root / "7b-C", None)
    return out


def bench_72b(root: Path) -> dict[str, object]:
    tiny = {"hidden": 96, "heads": 6, "kv_heads": 2, "head_dim": 16, "intermediate": 200, "vocab": 312,
            "experts": 8, "experts_per_token": 4, "moe_intermediate": 40}
    big = {96: 5120, 32: 1024, 312: 153376, 8: 64, 40: 1344}
    cfg = {"hidden_size": 5120, "num_attention_heads": 40, "num_key_value_heads": 8, "head_dim": 128,
           "vocab_size": 153376, "num_experts": 64, "num_experts_per_tok": 8, "moe_intermediate_size": 1344,
           "shared_expert_intermediate_size": 1344, "intermediate_size": 10240}
    config, entries = scaled_layout("pangu_pro_moe", tiny, big, 48, cfg)
    fills = {"A": sparse_vectors(1), "B": sparse_vectors(2), "A2": sparse_vectors(3, derive_from=1)}
    written = {n: make_model(root / f"72b-{n}", config, entries, fill) for n, fill in fills.items()}
    f = root / "72b-A" / "model.safetensors"
    out: dict[str, object] = {"declared_bytes": f.stat().st_size, "disk_bytes": os.stat(f).st_blocks * 512,
                              "bytes_written": written["A"], "tensors": len(entries)}
    out["vectors A-B (independent)"] = run(root / "72b-A", root / "72b-B", ["vectors"])
    out["vectors A-A2 (A + 30% noise)"] = run(root / "72b-A", root / "72b-A2", ["vectors"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/heredity-bench"))
    ap.add_argument("--skip-7b", action="store_true")
    ap.add_argument("--skip-72b", action="store_true")
    ap.add_argument("--reuse", action="store_true", help="reuse model files from an earlier run")
    args = ap.parse_args()
    global REUSE
    REUSE = args.reuse
    results: dict[str, object] = {}
    if not args.skip_72b:
        results["pangu_pro_moe_72b_vectors"] = bench_72b(args.dir)
        print(json.dumps(results["pangu_pro_moe_72b_vectors"], indent=1), flush=True)
    if not args.skip_7b:
        results["llama_7b"] = bench_7b(args.dir, args.layers)
        print(json.dumps(results["llama_7b"], indent=1), flush=True)
    (args.dir / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
