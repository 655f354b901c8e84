"""Fine-tuning / continued pre-training: the most common derivation of all.

The weights keep training from the parent on (usually different) text; everything is copied, so the
parent is untouched.  ``steps`` and ``lr`` set how far the child drifts.
"""

from __future__ import annotations

from typing import Any

from heredity.forge.derive.names import Arrays, Derived


def finetune(arrays: Arrays, config: dict[str, Any], text: str, steps: int = 100, seed: int = 0,
             lr: float = 1e-3) -> Derived:
    """Continue training on ``text`` for ``steps`` steps (AdamW, cosine, warm-up 10)."""
    from heredity.forge.io import from_arrays, to_arrays
    from heredity.forge.train import TrainSettings, fit

    model = from_arrays(arrays, config)
    fit(model, text, steps, seed, TrainSettings(lr=lr, warmup=10))
    return to_arrays(model.eval()), dict(config)
