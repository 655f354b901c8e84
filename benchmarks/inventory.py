"""Benchmark opening and laying out very large inventories: seconds for ``open`` + ``load_model``.

A DeepSeek-V3 header has ~92k tensors (61 layers, 256 routed experts, fp8 weights each with a
``weight_scale_inv``, one multi-token-prediction layer); Pangu Pro MoE 72B has 9,939.  The files
written here have those exact names but tiny shapes (every tensor a few bytes), so the file is
header plus a few MB and the figures measure only what grows with the number of names: header
parsing and validation, family detection, name mapping, inference of unknown names, the spec.

Names come from :func:`heredity.synth.make_checkpoint` at tiny size with the real layer and expert
counts; DeepSeek-V3's fp8 scales and MTP layer are added by the rules its checkpoints follow.

    python benchmarks/inventory.py [--dir /tmp/heredity-inventory] [--repeat 3]

Figures are the best of ``--repeat`` runs, wall seconds per step and CPU seconds for both steps (on a
shared machine the CPU figure is the steadier one); imports are done before timing.  The baseline in
the same run is a bare ``json.loads`` of the header (CPU seconds), the least any reader must spend.
"""

from __future__ import annotations

import argparse
import gc
import json
import struct
import time
from pathlib import Path
from typing import Any

from heredity.checkpoint import open_checkpoint
from heredity.layouts.load import model_from_checkpoint
from heredity.synth import make_checkpoint

Shape = tuple[int, ...]
_ITEMSIZE = {"BF16": 2, "F32": 4, "F8_E4M3": 1}
# DeepSeek-V3 stores these linear weights in fp8 with a per-block weight_scale_inv beside each
_FP8_PARTS = ("q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj", "gate_proj", "up_proj",
              "down_proj")  # fmt: skip


def write_header_file(path: Path, tensors: list[tuple[str, str, Shape]], config: dict[str, Any]) -> None:
    """A valid safetensors file of tiny zero tensors, plus its ``config.json``."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, dtype, shape in tensors:
        n = _ITEMSIZE[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + offset)
    (path.parent / "config.json").write_text(json.dumps(config, indent=1))


def write_sharded(folder: Path, tensors: list[tuple[str, str, Shape]], config: dict[str, Any], shards: int) -> None:
    """The same tensors split over ``shards`` files with a ``model.safetensors.index.json``."""
    per = -(-len(tensors) // shards)
    weight_map: dict[str, str] = {}
    for i in range(shards):
        part = tensors[i * per : (i + 1) * per]
        fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        write_header_file(folder / fname, part, config)
        weight_map.update(dict.fromkeys((n for n, _, _ in part), fname))
    index = {"metadata": {}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))


def deepseek_v3(layers: int = 61, experts: int = 256) -> tuple[list[tuple[str, str, Shape]], dict[str, Any]]:
    ck = make_checkpoint("deepseek_v3", layers=layers, hidden=8, heads=2, kv_heads=2, intermediate=8,
                         vocab=16, experts=experts, experts_per_token=8, moe_intermediate=4)  # fmt: skip
    config = dict(ck.config, first_k_dense_replace=3, num_nextn_predict_layers=1, n_group=8, topk_group=4)
    last = f"model.layers.{layers - 1}."
    names = [(n, i.shape) for n, i in ck.tensors.items()]
    # the MTP layer repeats the last decoder layer's names at index `layers`, plus its own projections
    names += [(n.replace(last, f"model.layers.{layers}."), s) for n, s in names if n.startswith(last)]
    extra = (
        "enorm.weight",
        "hnorm.weight",
        "eh_proj.weight",
        "shared_head.norm.weight",
        "shared_head.head.weight",
    )
    names += [(f"model.layers.{layers}.{e}", (8,)) for e in extra]
    tensors: list[tuple[str, str, Shape]] = []
    for name, shape in names:
        fp8 = len(shape) == 2 and any(f".{p}." in name for p in _FP8_PARTS)
        tensors.append((name, "F8_E4M3" if fp8 else "BF16", shape))
        if fp8:
            tensors.append((name.replace(".weight", ".weight_scale_inv"), "F32", (1, 1)))
    return tensors, config


def pangu_72b() -> tuple[list[tuple[str, str, Shape]], dict[str, Any]]:
    ck = make_checkpoint("pangu_pro_moe", layers=48, hidden=8, heads=2, kv_heads=2, intermediate=8, vocab=16,
                         experts=64, experts_per_token=8, moe_intermediate=4)  # fmt: skip
    return [(n, "BF16", i.shape) for n, i in ck.tensors.items()], dict(ck.config)


def _json_baseline(path: Path, repeat: int) -> float:
    """CPU seconds of a bare ``json.loads`` of the header(s): what any safetensors reader must spend."""
    raws = []
    for file in sorted(path.glob("*.safetensors")) if path.is_dir() else [path]:
        with open(file, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            raws.append(f.read(n))
    best = float("inf")
    gc.disable()  # as heredity pauses it while building an inventory
    for _ in range(repeat):
        c0 = time.process_time()
        for raw in raws:
            json.loads(raw)
        best = min(best, time.process_time() - c0)
    gc.enable()
    return best


def time_open_and_layout(path: Path, repeat: int) -> dict[str, Any]:
    best: dict[str, float] = {"json_cpu_s": _json_baseline(path, repeat)}
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        ckpt = open_checkpoint(path)
        t1 = time.perf_counter()
        model = model_from_checkpoint(ckpt)
        t2, c2 = time.perf_counter(), time.process_time()
        figures = (("open_s", t1 - t0), ("layout_s", t2 - t1), ("total_s", t2 - t0), ("cpu_s", c2 - c0))
        for key, value in figures:
            best[key] = min(best.get(key, value), value)
    return {"tensors": len(ckpt.tensors), "refs": len(model.refs), "unknown": len(model.unknown),
            "family": model.spec.family, "layers": model.spec.layers, "experts": model.spec.experts, **best}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/heredity-inventory"))
    parser.add_argument("--repeat", type=int, default=3, help="best of N timings")
    args = parser.parse_args()
    cases: dict[str, tuple[list[tuple[str, str, Shape]], dict[str, Any]]] = {
        "pangu-pro-moe-72b": pangu_72b(),
        "deepseek-v3": deepseek_v3(),
        "deepseek-v3-66-layers (100k)": deepseek_v3(layers=66),
    }
    warm = args.dir / "warmup" / "model.safetensors"  # imports are not the inventory's cost
    write_header_file(warm, [("model.norm.weight", "BF16", (4,))], {})
    model_from_checkpoint(open_checkpoint(warm))
    print(
        f"{'case':30} {'tensors':>8} {'refs':>8} {'unknown':>8} {'open s':>8} {'layout s':>9} {'total s':>8} "
        f"{'cpu s':>6} {'json cpu s':>10} {'cpu/json':>8}"
    )
    sharded = args.dir / "deepseek-v3-sharded"
    write_sharded(sharded, *cases["deepseek-v3"], shards=163)  # as published: 163 shards
    for label, (tensors, config) in [*cases.items(), ("deepseek-v3, 163 shards", cases["deepseek-v3"])]:
        path = args.dir / label.split()[0] / "model.safetensors"
        if label.endswith("shards"):
            path = sharded
        else:
            write_header_file(path, tensors, config)
        r = time_open_and_layout(path, args.repeat)
        print(f"{label:30} {r['tensors']:>8} {r['refs']:>8} {r['unknown']:>8} {r['open_s']:>8.3f} "
              f"{r['layout_s']:>9.3f} {r['total_s']:>8.3f} {r['cpu_s']:>6.3f} {r['json_cpu_s']:>10.3f} "
              f"{r['cpu_s'] / r['json_cpu_s']:>8.1f}   ({r['family']}, {r['layers']} layers, "
              f"{r['experts']} experts)")  # fmt: skip


if __name__ == "__main__":
    main()
