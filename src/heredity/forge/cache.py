"""A cache of forged models under one root: each named model is trained or derived once.

A finished model is a folder ``root/models-PLAN/NAME`` with config.json; half-built folders never appear
under their final name (they are written to NAME.tmp-PID and renamed), so an interrupted build resumes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heredity.forge.config import ForgeConfig, preset
from heredity.forge.data import load_corpus
from heredity.forge.derive.names import Derived
from heredity.forge.hf_config import to_hf


@dataclass(frozen=True)
class Plan:
    """How much compute the suite spends."""

    name: str  # models live in root/models-NAME, so quick and full builds never mix
    steps: int  # pre-training steps of every base model
    tune_steps: int  # steps of each fine-tune / LoRA / healing run
    layers: int  # decoder blocks of every model (>= 3 so depth pruning leaves 2)
    extra_families: bool  # full mode adds qwen3 / glm4 / mistral pairs


QUICK = Plan(name="quick", steps=150, tune_steps=40, layers=3, extra_families=False)
FULL = Plan(name="full", steps=400, tune_steps=100, layers=4, extra_families=True)


class Forge:
    """Builds named models on demand into ``root/models-PLAN``, each once (a finished folder is reused)."""

    def __init__(self, root: Path, plan: Plan) -> None:
        self.root, self.plan = root, plan
        self.models = root / f"models-{plan.name}"
        self.models.mkdir(parents=True, exist_ok=True)

    def cfg(self, family: str) -> ForgeConfig:
        return preset(family).with_(num_layers=self.plan.layers)

    def path(self, name: str) -> Path:
        return self.models / name

    def folder(self, name: str, make: Callable[[], Derived], shard_bytes: int | None = None) -> str:
        """Path of model ``name``; built with ``make`` unless already there.  Written to a folder
        private to this process and renamed into place, so concurrent builders never see (or leave)
        half a model; if another process finished first, its copy is kept."""
        final = self.path(name)
        if not (final / "config.json").is_file():
            from heredity.forge.io import save_folder

            tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            arrays, config = make()
            save_folder(arrays, config, tmp, shard_bytes)
            try:
                tmp.rename(final)
            except OSError:  # another builder got there first (same seeds, same bytes)
                shutil.rmtree(tmp, ignore_errors=True)
        return str(final)

    def arrays(self, name: str) -> Derived:
        from heredity.forge.io import load_folder

        return load_folder(self.path(name))

    def base(self, name: str, family: str, corpus: str, seed: int) -> str:
        """A model pre-trained from scratch."""

        def make() -> Derived:
            from heredity.forge.io import to_arrays
            from heredity.forge.train import train

            cfg = self.cfg(family)
            model, _ = train(cfg, load_corpus(corpus), self.plan.steps, seed)
            return to_arrays(model), to_hf(cfg)

        return self.folder(name, make)

    def derived(self, name: str, parent: str, fn: Callable[..., Derived], shard_bytes: int | None = None,
                **kw: Any) -> str:
        """``fn(arrays, config, **kw)`` applied to the saved model ``parent``."""
        return self.folder(name, lambda: fn(*self.arrays(parent), **kw), shard_bytes)

    def healed(self, name: str, parent: str, fn: Callable[..., Derived], **kw: Any) -> str:
        """A derivation followed by a short fine-tune on fables (what real upcycles/prunes do)."""
        from heredity.forge.derive.finetune import finetune

        def make() -> Derived:
            arrays, config = fn(*self.arrays(parent), **kw)
            return finetune(arrays, config, load_corpus("fables"), self.plan.tune_steps, seed=11)

        return self.folder(name, make)
