"""LoRA (Hu et al. 2021): train a low-rank update B A on frozen weights, then merge W += (alpha / r) B A.

The merged model is what gets published; its weights differ from the parent by a rank-r matrix per
adapted projection, which is exactly the signature lineage tests must catch.  Adapters go on the
attention projections and the dense MLP (including each expert's, if any).
"""

from __future__ import annotations

import math
from typing import Any

from heredity.forge.derive.names import Arrays, Derived

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "w1", "w2", "w3")


def _adapters(model: Any, rank: int, seed: int) -> dict[str, tuple[Any, Any]]:
    """A (r, in) ~ Kaiming-uniform, B (out, r) = 0 for every targeted nn.Linear; forward hooks add them."""
    import torch

    g = torch.Generator().manual_seed(seed)
    adapters = {}
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and name.rsplit(".", 1)[-1] in TARGETS:
            bound = 1.0 / math.sqrt(mod.in_features)
            A = torch.nn.Parameter((torch.rand(rank, mod.in_features, generator=g) * 2 - 1) * bound)
            B = torch.nn.Parameter(torch.zeros(mod.out_features, rank))
            adapters[name] = (A, B)
    return adapters


def _hook(A: Any, B: Any, scale: float) -> Any:
    def add_update(module: Any, inputs: tuple[Any, ...], output: Any) -> Any:
        return output + scale * (inputs[0] @ A.T @ B.T)

    return add_update


def lora(arrays: Arrays, config: dict[str, Any], text: str, steps: int = 100, rank: int = 4,
         alpha: float = 8.0, seed: int = 0, lr: float = 3e-3) -> Derived:
    """Train rank-``rank`` adapters on ``text`` with the base frozen, then merge them."""
    import torch

    from heredity.forge.io import from_arrays, to_arrays
    from heredity.forge.train import TrainSettings, fit

    model = from_arrays(arrays, config)
    model.requires_grad_(False)
    adapters, scale = _adapters(model, rank, seed), alpha / rank
    modules = dict(model.named_modules())
    handles = [modules[n].register_forward_hook(_hook(A, B, scale)) for n, (A, B) in adapters.items()]
    holder = torch.nn.ParameterList([p for pair in adapters.values() for p in pair])
    model.add_module("lora_params", holder)  # so fit() optimises them
    fit(model, text, steps, seed, TrainSettings(lr=lr, warmup=10))
    for h in handles:
        h.remove()
    del model.lora_params
    with torch.no_grad():
        for n, (A, B) in adapters.items():
            modules[n].weight += scale * (B @ A)
    return to_arrays(model.eval()), dict(config)
