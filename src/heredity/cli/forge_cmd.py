"""``heredity forge ...`` — train tiny models, derive from them, build the ground-truth suite.

Thin wrappers over :mod:`heredity.forge`; torch is imported only when a subcommand runs.
"""

from __future__ import annotations

import json

import click

from heredity.cli import _output as out
from heredity.forge.derive import KINDS


def _require_torch() -> None:
    from heredity.errors import require

    require("torch", "forge", "the forge")


@click.group(name="forge")
def command() -> None:
    """Forge ground truth: tiny trained models and their derivations."""


@command.command("train")
@click.option("--family", default="llama", show_default=True, help="Model family: llama, mistral, qwen2, qwen3, "
              "gemma3, glm4, mixtral, qwen2_moe, pangu_pro_moe.")
@click.option("--steps", default=200, show_default=True, type=click.IntRange(1), help="Training steps.")
@click.option("--seed", default=0, show_default=True, type=out.SEED_RANGE, help="Initialisation and data-order seed.")
@click.option("--corpus", default="fables", show_default=True, help="Training text: a bundled corpus name or a text file.")
@click.option("--size", type=click.Choice(["tiny", "small"]), default="tiny", show_default=True,
              help="Preset model size.")
@click.option("--lr", default=3e-3, show_default=True, type=float, help="Learning rate.")
@click.option("--shard-bytes", type=click.IntRange(1), default=None,
              help="Shard the safetensors output into files of at most this many bytes.")
@out.output_folder_option(required=True, help="Output folder (an HF-style folder: config.json + safetensors).")
@click.option("--format", "fmt", type=click.Choice(["terminal", "json"]), default="terminal", show_default=True,
              help="Output format of the summary line.")
def train_cmd(family: str, steps: int, seed: int, corpus: str, size: str, lr: float, shard_bytes: int | None,
              output: str, fmt: str) -> None:
    """Train a tiny model from scratch and save it as an HF folder."""
    _require_torch()
    from heredity.forge.config import preset
    from heredity.forge.data import load_corpus
    from heredity.forge.io import save_model
    from heredity.forge.train import train

    model, losses = train(preset(family, size), load_corpus(corpus), steps, seed, lr=lr)
    save_model(model, output, shard_bytes)
    summary = {"family": family, "steps": steps, "seed": seed, "first_loss": losses[0], "final_loss": losses[-1],
               "output": output}
    click.echo(json.dumps(summary) if fmt == "json" else
               f"trained {family} for {steps} steps: loss {losses[0]:.3f} -> {losses[-1]:.3f}; saved to {output}")


@command.command("derive")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("src", type=click.Path(exists=True))
@out.output_folder_option(required=True, file_okay=True, help="Output folder (quantize: a .gguf file).")
@click.option("--seed", default=0, show_default=True, type=out.SEED_RANGE,
              help="Randomness of the derivation (noise, permutations, data order).")
@click.option("--corpus", default="almanac", show_default=True,
              help="finetune/lora: training text, a bundled corpus name or a text file.")
@click.option("--steps", default=100, show_default=True, type=click.IntRange(1),
              help="finetune/lora: training steps.")
@click.option("--lr", default=1e-3, show_default=True, type=float,
              help="finetune: learning rate (lora uses 3x this).")
@click.option("--rank", default=4, show_default=True, type=click.IntRange(1), help="lora: adapter rank.")
@click.option("--experts", default=8, show_default=True, type=click.IntRange(1),
              help="upcycle-moe/upcycle-moge: routed experts.")
@click.option("--top-k", default=None, type=click.IntRange(1),
              help="Upcycling: experts per token (default: 2 for MoE, one per group for MoGE).")
@click.option("--groups", default=4, show_default=True, type=click.IntRange(1), help="upcycle-moge: expert groups.")
@click.option("--mode", type=click.Choice(["segments", "copies"]), default="segments", show_default=True,
              help="upcycle-moge: experts as slices of the dense MLP (segments) or whole copies.")
@click.option("--noise", default=0.0, show_default=True, type=float,
              help="Upcycling: noise added to each expert, relative to the weights' std.")
@click.option("--drop", multiple=True, type=int,
              help="prune-depth: a layer to drop (repeatable; default: the second to last).")
@click.option("--hidden", default=0.75, show_default=True, type=float, help="prune-width: fraction of hidden channels kept.")
@click.option("--neurons", default=0.75, show_default=True, type=float, help="prune-width: fraction of MLP neurons kept.")
@click.option("--with", "others", multiple=True, type=click.Path(exists=True),
              help="merge/ties: another model folder (repeatable).")
@click.option("--weight", "weights", multiple=True, type=float,
              help="merge: weight of each model, SRC first (repeatable).")
@click.option("--density", default=0.2, show_default=True, type=float, help="ties: fraction of each task vector kept.")
@click.option("--qtype", default="Q8_0", show_default=True, help="quantize: the GGUF type (e.g. Q8_0, Q4_K, F16).")
@click.option("--target", default="llama", show_default=True, help="rename: target family (llama, mistral or qwen2).")
@click.option("--spread", default=2.0, show_default=True, type=float,
              help="rescale: per-channel scales drawn from [1/spread, spread].")
def derive_cmd(kind: str, src: str, output: str, **options: object) -> None:
    """Derive a model of KIND from the forge folder SRC."""
    _require_torch()
    from heredity.forge.derive.run import DeriveOptions, run

    opts = {k: tuple(v) if isinstance(v, tuple | list) else v for k, v in options.items()}
    path = run(kind, src, output, DeriveOptions(**opts))  # type: ignore[arg-type]
    click.echo(f"{kind}: {src} -> {path}")


@command.command("suite")
@click.argument("root", type=click.Path(file_okay=False), callback=out._check_folder_option)
@click.option("--full", is_flag=True, help="More steps, families and cases (slower).")
@click.option("--format", "fmt", type=click.Choice(["terminal", "json"]), default="terminal", show_default=True,
              help="Output format of the case list.")
def suite_cmd(root: str, full: bool, fmt: str) -> None:
    """Build (or reuse) the labelled ground-truth suite under ROOT."""
    _require_torch()
    from dataclasses import asdict

    from heredity.forge.suite import build_suite

    cases = build_suite(root, quick=not full)
    if fmt == "json":
        click.echo(json.dumps({"schema": "heredity.forge.suite/1", "cases": [asdict(c) for c in cases]}))
        return
    for c in cases:
        click.echo(f"{c.id:32} {c.label:12} {c.a_path}  {c.b_path}")


@command.command("balance")
@click.option("--steps", default=200, show_default=True, type=click.IntRange(1), help="Training steps of each model.")
@click.option("--seed", default=0, show_default=True, type=out.SEED_RANGE, help="Initialisation and data-order seed.")
@click.option("--aux", default=0.0, show_default=True, type=float, help="Load-balancing loss weight.")
@click.option("--format", "fmt", type=click.Choice(["terminal", "json"]), default="terminal", show_default=True,
              help="Output format.")
def balance_cmd(steps: int, seed: int, aux: float, fmt: str) -> None:
    """Train MoGE and a top-K twin on fables; print their expert load balance on almanac text."""
    _require_torch()
    from dataclasses import asdict

    from heredity.forge.balance import compare
    from heredity.forge.data import load_corpus

    result = compare(load_corpus("fables"), steps, seed, eval_text=load_corpus("almanac"), aux_weight=aux)
    if fmt == "json":
        click.echo(json.dumps({k: asdict(v) for k, v in result.items()}))
        return
    for name, b in result.items():
        click.echo(f"{name:5} device imbalance score {b.device_is:.3f}  expert imbalance {b.expert_imbalance:.3f}"
                   f"  ({b.tokens} tokens per layer)")
