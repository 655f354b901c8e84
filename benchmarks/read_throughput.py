"""Read throughput of the safetensors reader against a plain sequential read of the same files.

Generates a sharded bf16 checkpoint (default about 2 GB) in a child process, then, in this process:

(a) inventory: ``open_checkpoint`` on the folder (headers only);
(b) every tensor's count, mean, std and NaN/Inf counts by :func:`heredity.checkpoint.stream.stream_all`
    (bf16 bytes streamed through an L2-sized buffer, decoded by mask and shift, summed by BLAS);
(b0) the same statistics through ``Checkpoint.read`` (float32 row chunks), the general path;
(c) a plain sequential ``readinto`` of the same shard files.

The page cache cannot be dropped without root, so (c) runs once to warm it, then (b), (b0) and (c)
are timed warm, all from memory.  Peak RSS is this process's (the generator runs in a child).
(b) pays the same kernel copy as (c) plus the decoding and the two reductions; with two threads the
arithmetic of one tensor overlaps the copy of the next.

    python benchmarks/read_throughput.py [--gb 2] [--shard-gb 0.5] [--threads 2] [--dir PATH] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import ml_dtypes
import numpy as np

from heredity.checkpoint import Checkpoint, open_checkpoint
from heredity.checkpoint.scan import row_chunks
from heredity.checkpoint.stream import stream_all
from heredity.checkpoint.writers import save_safetensors

HIDDEN, FFN = 2048, 5632  # a 1B-class llama layer: q,k,v,o [H,H] + gate,up [F,H] + down [H,F]
LAYER_SHAPES = {"q": (HIDDEN, HIDDEN), "k": (HIDDEN, HIDDEN), "v": (HIDDEN, HIDDEN), "o": (HIDDEN, HIDDEN),
                "gate": (FFN, HIDDEN), "up": (FFN, HIDDEN), "down": (HIDDEN, FFN)}  # fmt: skip
READ_CHUNK = 2 << 20  # float32 bytes per read() in (b): small chunks keep malloc reusing memory
_ONES = np.ones(READ_CHUNK // 4, np.float32)
FILE_CHUNK = 16 << 20  # bytes per readinto() in (c)


def _layer_bytes() -> int:
    return 2 * sum(r * c for r, c in LAYER_SHAPES.values()) + 2 * 2 * HIDDEN


def generate(folder: Path, gb: float, shard_gb: float) -> None:
    """Write ``config.json``, shards of whole layers and the index; one shard in memory at a time."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    layers = max(1, round(gb * 1e9 / _layer_bytes()))
    per_shard = max(1, int(shard_gb * 1e9 // _layer_bytes()))
    groups = [range(i, min(i + per_shard, layers)) for i in range(0, layers, per_shard)]
    weight_map: dict[str, str] = {}
    for k, group in enumerate(groups, start=1):
        arrays = {}
        for i in group:
            for name, shape in LAYER_SHAPES.items():
                arrays[f"model.layers.{i}.{name}.weight"] = (
                    rng.standard_normal(shape, np.float32) * 0.02
                ).astype(ml_dtypes.bfloat16)
            arrays[f"model.layers.{i}.input_layernorm.weight"] = np.ones(HIDDEN, ml_dtypes.bfloat16)
            arrays[f"model.layers.{i}.post_attention_layernorm.weight"] = np.ones(HIDDEN, ml_dtypes.bfloat16)
        fname = f"model-{k:05d}-of-{len(groups):05d}.safetensors"
        save_safetensors(arrays, folder / fname, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(arrays, fname))
    index = {"metadata": {"total_size": layers * _layer_bytes()}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "num_hidden_layers": layers}))


def plain_read(files: list[Path]) -> tuple[float, float, int]:
    """(wall s, cpu s, bytes) for a sequential readinto() of every file into one reused buffer."""
    buf = bytearray(FILE_CHUNK)
    total, c0, t0 = 0, time.process_time(), time.perf_counter()
    for f in files:
        with open(f, "rb", buffering=0) as fh:
            while n := fh.readinto(buf):
                total += n
    return time.perf_counter() - t0, time.process_time() - c0, total


def _total(x: np.ndarray) -> float:
    """Sum of a 1-D float32 chunk as a BLAS dot with ones: about 3x faster than ``ndarray.sum``."""
    return float(np.dot(x, _ONES[: x.size])) if x.size <= _ONES.size else float(x.sum())


def tensor_stats(ckpt: Checkpoint, name: str) -> tuple[float, float]:
    """Mean and std of one tensor, read in float32 row chunks."""
    n, s, ss = 0, 0.0, 0.0
    for rows in row_chunks(ckpt.tensors[name].shape, READ_CHUNK):
        x = ckpt.read(name, rows=rows).reshape(-1)
        n, s, ss = n + x.size, s + _total(x), ss + float(np.dot(x, x))
    mean = s / max(n, 1)
    return mean, max(ss / max(n, 1) - mean * mean, 0.0) ** 0.5


def reader_pass(
    folder: Path, threads: int, streamed: bool
) -> tuple[float, float, float, int, dict[str, tuple[float, float]]]:
    """(inventory s, read wall s, read cpu s, stored bytes, name -> (mean, std)) through the reader:
    :func:`stream_all` when ``streamed``, else ``Checkpoint.read`` in row chunks."""
    t0 = time.perf_counter()
    ckpt = open_checkpoint(folder)
    inventory = time.perf_counter() - t0
    names = list(ckpt.tensors)
    ckpt.read(names[0], rows=slice(0, 1))  # map the first shard outside the timing, as (c) opens files
    c1, t1 = time.process_time(), time.perf_counter()
    if streamed:
        stats = {n: (s.mean, s.std) for n, s in stream_all(ckpt, names, threads=threads).items()}
    else:
        with ThreadPoolExecutor(threads) as pool:
            stats = dict(zip(names, pool.map(lambda n: tensor_stats(ckpt, n), names), strict=True))
    elapsed, cpu = time.perf_counter() - t1, time.process_time() - c1
    stored = sum(i.nbytes for i in ckpt.tensors.values())
    ckpt.close()
    return inventory, elapsed, cpu, stored, stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=2.0, help="checkpoint size in GB (bf16)")
    ap.add_argument("--shard-gb", type=float, default=0.5, help="shard size in GB")
    ap.add_argument("--dir", type=Path, default=None, help="where to write (default: a temp dir)")
    ap.add_argument("--threads", type=int, default=2, help="reader threads in (b) and (b0) (plain read uses one)")
    ap.add_argument("--keep", action="store_true", help="keep the generated checkpoint")
    ap.add_argument("--generate-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate_only:
        generate(args.generate_only, args.gb, args.shard_gb)
        return
    root = args.dir or Path(tempfile.mkdtemp(prefix="heredity-bench-"))
    folder = root / "model"
    try:
        run(folder, args.gb, args.shard_gb, args.threads)
    finally:
        if not args.keep:
            shutil.rmtree(folder if args.dir else root, ignore_errors=True)


def run(folder: Path, gb: float, shard_gb: float, threads: int) -> None:
    t0 = time.perf_counter()
    cmd = [
        sys.executable,
        __file__,
        "--generate-only",
        str(folder),
        "--gb",
        str(gb),
        "--shard-gb",
        str(shard_gb),
    ]
    subprocess.run(cmd, check=True)
    print(f"generated {folder} in {time.perf_counter() - t0:.1f} s (child process)")
    files = sorted(folder.glob("model-*.safetensors"))
    plain_read(files)  # warm the page cache: all timings below are warm
    inventory, read_s, read_cpu, stored, stats = reader_pass(folder, threads, streamed=True)
    _, read0_s, read0_cpu, _, stats0 = reader_pass(folder, threads, streamed=False)
    plain_s, plain_cpu, plain_bytes = plain_read(files)
    print(f"checkpoint: {len(files)} shards, {len(stats)} tensors, {stored / 1e9:.2f} GB stored (bf16)")
    print(f"(a) inventory from headers: {inventory * 1e3:.1f} ms")
    b_gbs, b0_gbs, c_gbs = stored / read_s / 1e9, stored / read0_s / 1e9, plain_bytes / plain_s / 1e9
    print(f"(b) stream_all: count, mean, std, NaN/Inf, warm, {threads} thread(s): {read_s:.2f} s = {b_gbs:.2f} GB/s"
          f" ({read_cpu:.2f} s cpu)")  # fmt: skip
    print(f"(b0) Checkpoint.read in float32 row chunks + mean/std, {threads} thread(s): {read0_s:.2f} s = "
          f"{b0_gbs:.2f} GB/s ({read0_cpu:.2f} s cpu)")  # fmt: skip
    print(
        f"(c) plain sequential read, warm, 1 thread: {plain_s:.2f} s = {c_gbs:.2f} GB/s ({plain_cpu:.2f} s cpu)"
    )
    print(f"ratio (b)/(c): {b_gbs / c_gbs:.2f}  (goal >= 0.5);  (b0)/(c): {b0_gbs / c_gbs:.2f}")
    print(f"cpu-time ratio (c)/(b): {plain_cpu / max(read_cpu, 1e-9):.2f};  (c)/(b0): "
          f"{plain_cpu / max(read0_cpu, 1e-9):.2f}  (cpu of all threads; a loaded machine inflates wall)")  # fmt: skip
    worst = max(abs(stats[n][1] - stats0[n][1]) / max(stats0[n][1], 1e-30) for n in stats)
    print(f"agreement: largest relative difference of a tensor's std, (b) vs (b0): {worst:.1e}")
    report_machine(stats)


def report_machine(stats: dict[str, tuple[float, float]]) -> None:
    """Peak RSS, machine load (timings on a busy machine are wall-clock), and a sanity check."""
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {rss_mb:.0f} MB  (goal < 1024)")
    print(f"load average (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    mean_std = np.mean([s for _, s in stats.values() if s > 0])
    print(f"sanity: mean per-tensor std of weight tensors = {mean_std:.4f} (generated with 0.02)")


if __name__ == "__main__":
    main()
