"""Write an HF-named state dict as a GGUF file the way llama.cpp's converter would.

Used by the forge (quantisation and format-change derivations) and by tests that need GGUF
files with known contents.  1-D tensors (norms, biases) stay F32 as in llama.cpp; matrices whose
rows are not whole quantisation blocks fall back to F16, as ``llama-quantize`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from heredity.checkpoint._gguf_names import gguf_arch, gguf_tensors
from heredity.errors import InputError, require, safe_name

DEFAULT_CONTEXT = 2048


def _qtype(name: str) -> Any:
    from gguf.constants import GGMLQuantizationType

    try:
        return GGMLQuantizationType[name.upper()]
    except KeyError:
        raise InputError(
            f"unknown GGUF type '{safe_name(name)}'", fix="use F32, F16, BF16, Q8_0, Q4_0, ..."
        ) from None


def _encode(a: np.ndarray, qtype: Any) -> tuple[np.ndarray, Any]:
    """Quantise one tensor; return (stored array, ggml type actually used)."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType
    from gguf.quants import quantize

    if a.ndim < 2 or qtype == GGMLQuantizationType.F32:
        return np.ascontiguousarray(a, dtype=np.float32), GGMLQuantizationType.F32
    block = GGML_QUANT_SIZES[qtype][0]
    if a.shape[-1] % block:
        qtype = GGMLQuantizationType.F16
    try:
        return quantize(np.ascontiguousarray(a), qtype), qtype
    except NotImplementedError:
        raise InputError(
            f"the gguf package cannot quantise to {qtype.name}", fix="pick Q8_0, Q4_0, ..."
        ) from None


def _file_type(qtype: Any) -> int | None:
    """llama.cpp's ``general.file_type`` (its own enum, not the ggml type) for a target type."""
    from gguf.constants import LlamaFileType

    if qtype.name == "F32":
        return int(LlamaFileType.ALL_F32)
    for name in (f"MOSTLY_{qtype.name}", f"MOSTLY_{qtype.name}_M"):
        if name in LlamaFileType.__members__:
            return int(LlamaFileType[name])
    return None


def _add_metadata(writer: Any, config: Mapping[str, Any], file_type: int | None) -> None:
    """The hyper-parameters llama.cpp needs to load the model (and heredity to inspect it)."""
    heads = int(config["num_attention_heads"])
    writer.add_block_count(int(config["num_hidden_layers"]))
    writer.add_context_length(int(config.get("max_position_embeddings") or DEFAULT_CONTEXT))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_head_count(heads)
    writer.add_head_count_kv(int(config.get("num_key_value_heads") or heads))
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps") or 1e-6))
    if file_type is not None:
        writer.add_file_type(file_type)
    optional = {
        "intermediate_size": writer.add_feed_forward_length,
        "head_dim": lambda v: (writer.add_key_length(v), writer.add_value_length(v)),
        "rope_theta": lambda v: writer.add_rope_freq_base(float(v)),
        "num_experts": writer.add_expert_count,
        "num_local_experts": writer.add_expert_count,
        "num_experts_per_tok": writer.add_expert_used_count,
        "moe_intermediate_size": writer.add_expert_feed_forward_length,
        "vocab_size": writer.add_vocab_size,
    }
    for key, add in optional.items():
        if config.get(key) is not None:
            add(config[key])


def save_gguf(
    arrays: Mapping[str, np.ndarray], config: Mapping[str, Any], path: str | Path, qtype: str = "F32"
) -> Path:
    """Write ``arrays`` (HF names) with ``config`` (HF keys) to ``path`` as GGUF; return the path."""
    require("gguf", "gguf", "writing GGUF files")
    from gguf import GGUFWriter

    arch, target = gguf_arch(config), _qtype(qtype)
    out = Path(path)
    writer = GGUFWriter(out, arch)
    try:
        _add_metadata(writer, config, _file_type(target))
        for name, a in gguf_tensors(arrays, config, arch):
            data, used = _encode(a, target)
            writer.add_tensor(name, data, raw_dtype=used)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    return out
