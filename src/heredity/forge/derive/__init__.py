"""Derivations: functions ``(arrays, config, ...) -> (arrays, config)`` on HF-named state dicts.

Each file holds one idea (fine-tune, LoRA, upcycle, prune, merge, quantise, rename, obfuscate);
:data:`KINDS` lists the CLI names.  Derivations never mutate their inputs.
"""

from __future__ import annotations

KINDS = (
    "finetune", "lora", "upcycle-moe", "upcycle-moge", "prune-depth", "prune-width", "merge", "ties",
    "quantize", "rename", "permute", "rescale",
)
