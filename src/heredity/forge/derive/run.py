"""Run one derivation by its CLI name: read SRC folder(s), apply, write DST (folder or .gguf file).

This is the library behind ``heredity forge derive``; options arrive as a :class:`DeriveOptions`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heredity.errors import UsageError
from heredity.forge.derive import KINDS
from heredity.forge.derive.names import Arrays, Derived


@dataclass(frozen=True)
class DeriveOptions:
    """Every knob any derivation takes; each kind reads the ones it needs."""

    seed: int = 0  # randomness of the derivation (noise, permutations, data order)
    corpus: str = "almanac"  # text for finetune / lora (bundled name or file path)
    steps: int = 100  # training steps for finetune / lora
    lr: float = 1e-3  # learning rate for finetune (lora uses 3x)
    rank: int = 4  # LoRA rank
    experts: int = 8  # upcycling: routed experts
    top_k: int | None = None  # upcycling: experts per token (default: 2 for MoE, one per group for MoGE)
    groups: int = 4  # MoGE groups
    mode: str = "segments"  # MoGE upcycling: "segments" or "copies"
    noise: float = 0.0  # upcycling: expert noise, relative to the weights' std
    drop: tuple[int, ...] = ()  # depth pruning: layers to drop (default: second to last)
    hidden: float = 0.75  # width pruning: fraction of hidden channels kept
    neurons: float = 0.75  # width pruning: fraction of MLP neurons kept
    others: tuple[str, ...] = ()  # merge / ties: the other model folders
    weights: tuple[float, ...] = ()  # linear merge weights (SRC first)
    density: float = 0.2  # TIES trim density
    qtype: str = "Q8_0"  # quantize: GGUF type
    target: str = "llama"  # rename: target family
    spread: float = 2.0  # rescale: scales in [1/spread, spread]
    max_shard_bytes: int | None = field(default=None)  # shard the output folder


def _apply(kind: str, src: str, o: DeriveOptions) -> Derived:
    from heredity.forge.io import load_folder

    arrays, config = load_folder(src)
    return _TABLE[kind](arrays, config, o)


def _text(o: DeriveOptions) -> str:
    from heredity.forge.data import load_corpus

    return load_corpus(o.corpus)


def _finetune(a: Arrays, c: dict[str, Any], o: DeriveOptions) -> Derived:
    from heredity.forge.derive.finetune import finetune

    return finetune(a, c, _text(o), o.steps, o.seed, o.lr)


def _lora(a: Arrays, c: dict[str, Any], o: DeriveOptions) -> Derived:
    from heredity.forge.derive.lora import lora

    return lora(a, c, _text(o), o.steps, o.rank, seed=o.seed, lr=3 * o.lr)


def _upcycle_moe(a: Arrays, c: dict[str, Any], o: DeriveOptions) -> Derived:
    from heredity.forge.derive.upcycle import upcycle_moe

    return upcycle_moe(a, c, o.experts, o.top_k or 2, o.noise, o.seed)


def _upcycle_moge(a: Arrays, c: dict[str, Any], o: DeriveOptions) -> Derived:
    from heredity.forge.derive.upcycle import upcycle_moge

    return upcycle_moge(a, c, o.experts, o.groups, o.top_k or o.groups, o.mode, o.noise, o.seed, router_std=0.02)


def _prune_depth(a: Arrays, c: dict[str, Any], o: DeriveOptions) -> Derived:
    from heredity.forge.derive.prune import prune_depth

    return prune_depth(a, c, list(o.drop) or None)


def _prune_width(a: Arrays, c: dict[str, Any], o: DeriveOptions) -> Derived:
    from heredity.forge.derive.prune import prune_width

    return prune_width(a, c, o.hidden, o.neurons)


def _others(o: DeriveOptions) -> list[Arrays]:
    from heredity.forge.io import load_folder

    if not o.others:
        raise UsageError("merge and ties need at least one more model", fix="add --with OTHER_FOLDER")
    return [load_folder(p)[0] for p in o.others]


def _merge(a: Arrays, c: dict[str, Any], o: DeriveOptions) -> Derived:
    from heredity.forge.derive.merge import linear_merge

    return linear_merge([a, *_others(o)], c, list(o.weights) or None)


def _ties(a: Arrays, c: dict[str, Any], o: DeriveOptions) -> Derived:
    from heredity.forge.derive.merge import ties_merge

    return ties_merge(a, _others(o), c, o.density)


def _rename(a: Arrays, c: dict[str, Any], o: DeriveOptions) -> Derived:
    from heredity.forge.derive.rename import rename

    return rename(a, c, o.target)


def _permute(a: Arrays, c: dict[str, Any], o: DeriveOptions) -> Derived:
    from heredity.forge.derive.obfuscate import permute_all

    return permute_all(a, c, o.seed)


def _rescale(a: Arrays, c: dict[str, Any], o: DeriveOptions) -> Derived:
    from heredity.forge.derive.rescale import rescale

    return rescale(a, c, o.seed, o.spread)


_TABLE: dict[str, Callable[..., Derived]] = {
    "finetune": _finetune, "lora": _lora, "upcycle-moe": _upcycle_moe, "upcycle-moge": _upcycle_moge,
    "prune-depth": _prune_depth, "prune-width": _prune_width, "merge": _merge, "ties": _ties,
    "rename": _rename, "permute": _permute, "rescale": _rescale,
}


def run(kind: str, src: str, dst: str, o: DeriveOptions) -> Path:
    """Derive ``dst`` from ``src``; ``quantize`` writes a GGUF file, every other kind a folder."""
    if kind not in KINDS:
        raise UsageError(f"unknown derivation {kind!r}", fix=f"use one of: {', '.join(KINDS)}")
    if kind == "quantize":
        from heredity.forge.derive.quantize import quantize
        from heredity.forge.io import load_folder

        return quantize(*load_folder(src), dst, o.qtype)
    from heredity.forge.io import save_folder

    arrays, config = _apply(kind, src, o)
    return save_folder(arrays, config, dst, o.max_shard_bytes)
