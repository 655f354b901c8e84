"""HF tensor names -> llama.cpp names, and the tensor edits llama.cpp's converter makes.

Why here and not in the layouts tables: writing a GGUF must reproduce what ``convert_hf_to_gguf``
does (rename, stack experts, permute llama q/k rows, store Gemma norms as ``1 + w``) so that the
files the forge writes look like the ones people publish.  Name tables come from the ``gguf``
package (``TensorNameMap``); only the per-architecture edits are ours.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from heredity.checkpoint._gguf_config import NORM_PLUS_ONE_ARCHS, QK_PERMUTED_ARCHS
from heredity.errors import InputError, safe_name

# HF model_type -> llama.cpp architecture name (Mistral and Mixtral are converted as llama).
ARCH_FROM_MODEL_TYPE = {
    "llama": "llama",
    "mistral": "llama",
    "mixtral": "llama",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "qwen2_moe": "qwen2moe",
    "qwen3_moe": "qwen3moe",
    "gemma2": "gemma2",
    "gemma3": "gemma3",
    "gemma3_text": "gemma3",
}

# experts stored one per tensor in HF; llama.cpp stacks them into one [E, rows, cols] tensor.
_EXPERT = re.compile(r"^(?P<pre>.+\.(?:mlp|block_sparse_moe)\.experts)\.(?P<e>\d+)\.(?P<proj>\w+)\.weight$")
_MIXTRAL_PROJ = {"w1": "gate_proj", "w2": "down_proj", "w3": "up_proj"}


def gguf_arch(config: Mapping[str, Any]) -> str:
    """The llama.cpp architecture for an HF config; unknown families are refused, not guessed."""
    model_type = str(config.get("model_type", ""))
    try:
        return ARCH_FROM_MODEL_TYPE[model_type]
    except KeyError:
        known = ", ".join(sorted(ARCH_FROM_MODEL_TYPE))
        raise InputError(
            f"cannot write GGUF for model_type '{safe_name(model_type)}'", fix=f"use one of: {known}"
        ) from None


def permute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's q/k row order: each head's two rotary halves interleaved row by row."""
    rows = w.shape[0]
    if rows % (2 * n_head):
        raise InputError(f"cannot permute {rows} rows into {n_head} heads", fix="check num_attention_heads")
    return w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def stack_experts(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Replace per-expert tensors by one stacked tensor per (layer, projection), as llama.cpp does."""
    out: dict[str, np.ndarray] = {}
    groups: dict[str, dict[int, np.ndarray]] = {}
    for name, a in arrays.items():
        m = _EXPERT.match(name)
        if m is None:
            out[name] = a
            continue
        proj = _MIXTRAL_PROJ.get(m["proj"], m["proj"])
        pre = m["pre"].replace("block_sparse_moe", "mlp")
        groups.setdefault(f"{pre}.{proj}.weight", {})[int(m["e"])] = a
    for name, experts in groups.items():
        if sorted(experts) != list(range(len(experts))):
            raise InputError(f"experts of '{safe_name(name)}' are not numbered 0..{len(experts) - 1}")
        out[name] = np.stack([experts[e] for e in range(len(experts))])
    return out


def edit_tensor(name: str, a: np.ndarray, arch: str, config: Mapping[str, Any]) -> np.ndarray:
    """Apply the converter's value edits for ``arch`` to one HF tensor."""
    if arch in QK_PERMUTED_ARCHS:
        n_head = int(config["num_attention_heads"])
        n_kv = int(config.get("num_key_value_heads") or n_head)
        if name.endswith(("q_proj.weight", "q_proj.bias")):
            return permute_qk(a, n_head)
        if name.endswith(("k_proj.weight", "k_proj.bias")):
            return permute_qk(a, n_kv)
    if arch in NORM_PLUS_ONE_ARCHS and name.endswith("norm.weight"):
        return a + 1.0
    return a


def gguf_tensors(
    arrays: Mapping[str, np.ndarray], config: Mapping[str, Any], arch: str
) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (llama.cpp name, edited float32 array) for every HF tensor; unknown names are refused."""
    from gguf.constants import MODEL_ARCH_NAMES
    from gguf.tensor_mapping import get_tensor_name_map

    arch_enum = next(k for k, v in MODEL_ARCH_NAMES.items() if v == arch)
    name_map = get_tensor_name_map(arch_enum, int(config["num_hidden_layers"]))
    for name, a in stack_experts(arrays).items():
        new = name_map.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise InputError(
                f"no llama.cpp name for tensor '{safe_name(name)}' in architecture {arch}",
                fix="rename it to the Hugging Face convention or drop it before saving",
            )
        yield new, edit_tensor(name, np.asarray(a, dtype=np.float32), arch, config)
