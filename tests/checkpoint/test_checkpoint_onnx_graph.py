"""ONNX roles from the graph: exported graphs in five naming styles give back their original weights.

Ground truth is the numpy weights the graph was built from (:mod:`heredity.testing.onnx_export`), in
torch ``Linear`` orientation, dequantised where the style quantises; hostile graphs (cycles, scales
that do not fit, weights used twice, names taken) are read without an exception.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from heredity.checkpoint.onnx_reader import open_onnx  # noqa: E402
from heredity.errors import HeredityError  # noqa: E402
from heredity.inspect import inspect_model  # noqa: E402
from heredity.layouts.load import load_model  # noqa: E402
from heredity.layouts.model import Model  # noqa: E402
from heredity.layouts.roles import Role  # noqa: E402
from heredity.testing.onnx_export import ARCHS, STYLES, export  # noqa: E402

HIDDEN = 16


def _save(model: object, path: Path, external: bool = False) -> Path:
    onnx.save_model(model, str(path), save_as_external_data=external, location="w.bin", size_threshold=0)
    return path


def _expected(weights: dict[tuple[str, int | None], np.ndarray]) -> dict[tuple[str, int | None], np.ndarray]:
    """The truth keyed by the roles a table maps (GPT-2's fused qkv split into q, k, v)."""
    out = {}
    for (role, layer), w in weights.items():
        if role in ("qkv", "qkv_bias"):
            suffix = role[3:]
            out.update({(r + suffix, layer): w[j * HIDDEN : (j + 1) * HIDDEN] for j, r in enumerate("qkv")})
        else:
            out[(role, layer)] = w
    return out


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("arch", ARCHS)
def test_every_weight_comes_back(tmp_path: Path, arch: str, style: str) -> None:
    e = export(arch, style, hidden=HIDDEN)
    model = load_model(_save(e.model, tmp_path / "m.onnx"))
    assert model.spec.family == arch and model.unknown == []
    if arch != "gpt2":  # q and k reshaped into heads (GPT-2 splits a fused qkv first: heads stay guessed)
        assert (model.spec.heads, model.spec.head_dim) == (4, HIDDEN // 4)
    expected = _expected(e.weights)
    assert len(model.refs) == len(expected)
    for (role, layer), w in expected.items():
        got = model.get(Role(role), layer)
        assert got.shape == w.shape and np.allclose(got, w, atol=1e-6), (role, layer)


@pytest.mark.parametrize("style", ["torchscript", "int8", "qdq", "anonymous"])
def test_renamed_keeps_the_stored_names(tmp_path: Path, style: str) -> None:
    e = export("bert", style, hidden=HIDDEN)
    with open_onnx(_save(e.model, tmp_path / "m.onnx")) as ck:
        stored = {v[0] for v in ck.renamed.values()}
        q = ck.renamed["encoder.layer.1.attention.self.query.weight"]
        assert q[0] == e.names[("q", 1)]
        assert q[1] == ("structure" if style == "anonymous" else "bias")
        assert not stored & set(ck.tensors)  # a renamed initialiser is not also exposed as stored
        assert all(not n.endswith(("_scale", "_zero_point")) for n in ck.tensors)  # scales are absorbed
        assert ck.skipped and all(ck.tensors.get(n) is None for n in ck.skipped)  # the attention scale etc.


def test_inspect_json_lists_renamed(tmp_path: Path) -> None:
    e = export("bert", "int8", hidden=HIDDEN)
    doc = inspect_model(load_model(_save(e.model, tmp_path / "m.onnx"))).to_dict()
    assert doc["renamed"]["encoder.layer.0.output.dense.weight"]["stored_as"] == e.names[("mlp_down", 0)]
    assert doc["renamed"]["embeddings.word_embeddings.weight"] == {"stored_as": "embeddings.word_embeddings.weight_q",
                                                                   "how": "own"}  # fmt: skip
    assert any("names found in the graph" in n for n in doc["notes"]) and doc["unknown_tensors"] == []


@pytest.mark.parametrize("external", [False, True])
@pytest.mark.parametrize("style", ["torchscript", "int8", "qdq"])
def test_row_reads_of_transposed_and_quantised_weights(tmp_path: Path, style: str, external: bool) -> None:
    e = export("bert", style, hidden=HIDDEN, ffn=40)
    with open_onnx(_save(e.model, tmp_path / "m.onnx", external)) as ck:
        for name in ("encoder.layer.0.intermediate.dense.weight", "embeddings.word_embeddings.weight"):
            whole = ck.read(name)
            assert ck.tensors[name].shape == whole.shape
            for rows in (slice(3, 9), slice(0, 40, 7), slice(35, 100)):
                part = ck.read(name, rows=rows)
                assert part.flags.c_contiguous and np.array_equal(part, whole[rows])


def _graph(nodes: list[object], inits: list[object]) -> object:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], initializer=inits)  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _int8(name: str, shape: tuple[int, ...], scale_shape: tuple[int, ...]) -> list[object]:
    rng = np.random.default_rng(1)
    q = rng.integers(-100, 100, size=shape, dtype=np.int8)
    return [numpy_helper.from_array(q, name + "_q"),
            numpy_helper.from_array(np.full(scale_shape, 0.5, np.float32), name + "_scale")]  # fmt: skip


def test_scale_that_does_not_fit_leaves_the_weight_as_stored(tmp_path: Path) -> None:
    nodes = [helper.make_node("Cast", ["w_q"], ["w_f"], to=1), helper.make_node("Mul", ["w_f", "w_scale"], ["w"]),
             helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "lin.bias"], ["y"])]  # fmt: skip
    inits = [*_int8("w", (4, 4), (1, 3)), numpy_helper.from_array(np.zeros(4, np.float32), "lin.bias")]
    with open_onnx(_save(_graph(nodes, inits), tmp_path / "m.onnx")) as ck:
        assert {"w_q", "w_scale", "lin.bias"} <= set(ck.tensors) and not ck.renamed
        assert ck.read("w_q").dtype == np.float32


def test_weight_used_twice_is_not_named_from_one_use(tmp_path: Path) -> None:
    nodes = [helper.make_node("MatMul", ["x", "onnx::MatMul_1"], ["a"]),
             helper.make_node("Add", ["a", "p.bias"], ["b"]),
             helper.make_node("MatMul", ["b", "onnx::MatMul_1"], ["y"])]  # fmt: skip
    inits = [numpy_helper.from_array(np.eye(4, dtype=np.float32), "onnx::MatMul_1"),
             numpy_helper.from_array(np.ones(4, np.float32), "p.bias")]  # fmt: skip
    with open_onnx(_save(_graph(nodes, inits), tmp_path / "m.onnx")) as ck:
        assert set(ck.tensors) == {"onnx::MatMul_1", "p.bias"} and not ck.renamed


def test_name_collision_keeps_the_stored_name(tmp_path: Path) -> None:
    """The bias says ``p.weight``, but an initialiser already has that name: nothing is overwritten."""
    nodes = [helper.make_node("MatMul", ["x", "onnx::MatMul_1"], ["a"]), helper.make_node("Add", ["a", "p.bias"], ["b"]),
             helper.make_node("Mul", ["b", "p.weight"], ["y"])]  # fmt: skip
    inits = [numpy_helper.from_array(np.eye(4, dtype=np.float32) * 2, "onnx::MatMul_1"),
             numpy_helper.from_array(np.ones(4, np.float32), "p.bias"),
             numpy_helper.from_array(np.full(4, 3.0, np.float32), "p.weight")]  # fmt: skip
    with open_onnx(_save(_graph(nodes, inits), tmp_path / "m.onnx")) as ck:
        assert set(ck.tensors) == {"onnx::MatMul_1", "p.bias", "p.weight"}
        assert np.array_equal(ck.read("p.weight"), np.full(4, 3.0, np.float32))


def test_cyclic_and_dangling_graph_is_read(tmp_path: Path) -> None:
    """Nodes feeding each other in a loop, a Transpose chain longer than any walk, dangling inputs."""
    nodes = [helper.make_node("Cast", ["w_q"], ["c0"], to=1)]
    nodes += [helper.make_node("Transpose", [f"c{i}"], [f"c{i + 1}"], perm=[1, 0]) for i in range(40)]
    nodes += [helper.make_node("Add", ["loop_b", "x"], ["loop_a"]), helper.make_node("Add", ["loop_a", "x"], ["loop_b"]),
              helper.make_node("MatMul", ["loop_a", "c40"], ["y"]), helper.make_node("Mul", ["missing", "w_scale"], ["z"])]  # fmt: skip
    model = _graph(nodes, _int8("w", (4, 4), (1, 4)))
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())  # type: ignore[attr-defined]  # not checkable: it is cyclic
    with open_onnx(path) as ck:
        assert set(ck.tensors) == {"w_q", "w_scale"}
        assert ck.read("w_q").shape == (4, 4)


def test_value_with_many_consumers_costs_a_few(tmp_path: Path) -> None:
    nodes = [helper.make_node("MatMul", ["x", "onnx::MatMul_1"], [f"y{i}"]) for i in range(3000)]
    inits = [numpy_helper.from_array(np.eye(4, dtype=np.float32), "onnx::MatMul_1")]
    with open_onnx(_save(_graph(nodes, inits), tmp_path / "m.onnx")) as ck:
        assert set(ck.tensors) == {"onnx::MatMul_1"}


def test_structure_names_real_layer_order(tmp_path: Path) -> None:
    """The anonymous export emits v, k, q and up before gate; the graph still says which is which."""
    e = export("llama", "anonymous", layers=3, hidden=HIDDEN)
    model = load_model(_save(e.model, tmp_path / "m.onnx"))
    ck = Model.stored_checkpoint(model.checkpoint)
    for layer in range(3):
        for role in ("q", "k", "v", "mlp_gate", "mlp_up", "mlp_down", "attn_norm", "mlp_norm"):
            assert ck.renamed[model.ref(Role(role), layer).name][0] == e.names[(role, layer)]
    assert ck.renamed[model.ref(Role.LM_HEAD).name][0] == e.names[("lm_head", None)]


def test_garbage_nodes_never_raise_a_foreign_error(tmp_path: Path) -> None:
    """Every node of an exported graph rewired at random: the reader answers or raises its own error."""
    rng = np.random.default_rng(5)
    e = export("bert", "int8", hidden=HIDDEN)
    values = [v for n in e.model.graph.node for v in (*n.input, *n.output)]
    for trial in range(30):
        model = onnx.ModelProto()
        model.CopyFrom(e.model)
        for n in model.graph.node:
            if rng.random() < 0.3 and len(n.input):
                n.input[int(rng.integers(len(n.input)))] = values[int(rng.integers(len(values)))]
        path = tmp_path / f"m{trial}.onnx"
        path.write_bytes(model.SerializeToString())
        try:
            model_ = load_model(path)
            for ref in model_.refs[:12]:
                model_.load(ref)
        except HeredityError:
            pass


def test_rows_of_a_scalar_is_heredity_error(tmp_path: Path) -> None:
    """Found by a graph-rewiring fuzz run: a weight replaced by a 0-d initialiser, read by rows."""
    nodes = [helper.make_node("MatMul", ["x", "lin.w"], ["y"])]
    with open_onnx(_save(_graph(nodes, [numpy_helper.from_array(np.array(2.0, np.float32), "lin.w")]), tmp_path / "m.onnx")) as ck:
        assert ck.read("lin.w").shape == ()
        with pytest.raises(HeredityError, match="scalar"):
            ck.read("lin.w", rows=slice(0, 3))


@pytest.mark.parametrize("style", ["named", "int8", "anonymous"])
def test_grouped_attention_heads_from_the_graph(tmp_path: Path, style: str) -> None:
    e = export("llama", style, hidden=32, heads=8, kv_heads=2)
    model = load_model(_save(e.model, tmp_path / "m.onnx"))
    assert (model.spec.heads, model.spec.kv_heads, model.spec.head_dim) == (8, 2, 4)
    assert model.get(Role.K, 1).shape == (8, 32) and np.allclose(model.get(Role.V, 0), e.weights[("v", 0)])
    assert np.allclose(model.get(Role.Q, 1), e.weights[("q", 1)])
    assert any("heads read from the ONNX graph" in w for w in model.checkpoint.warnings)


def test_config_heads_are_not_overridden(tmp_path: Path) -> None:
    import json

    e = export("bert", "int8", hidden=HIDDEN)
    path = _save(e.model, tmp_path / "m.onnx")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "num_attention_heads": 2}))
    assert load_model(path).spec.heads == 2


def _linear_graph(nodes: list[object], inits: list[object], x: str = "x") -> object:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(x, TensorProto.FLOAT, [2, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])], initializer=inits)  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def test_matmul_integer_with_its_rescaling_mul(tmp_path: Path) -> None:
    """onnxruntime's dynamic quantisation: MatMulInteger(x_q, W_q, x_zp, W_zp), Cast, Mul by
    x_scale * W_scale, Add(bias): W = (W_q - W_zp) * W_scale, exposed [out, in] as ``lin.weight``."""
    rng = np.random.default_rng(2)
    wq = rng.integers(0, 255, size=(6, 4), dtype=np.uint8)  # [in, out]
    zp = rng.integers(100, 150, size=4, dtype=np.uint8)
    scale = np.linspace(0.01, 0.04, 4, dtype=np.float32)
    inits = [numpy_helper.from_array(wq, "onnx::MatMul_7_quantized"), numpy_helper.from_array(zp, "onnx::MatMul_7_zero_point"),
             numpy_helper.from_array(scale, "onnx::MatMul_7_scale"), numpy_helper.from_array(np.ones(4, np.float32), "lin.bias")]  # fmt: skip
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
             helper.make_node("MatMulInteger", ["xq", "onnx::MatMul_7_quantized", "xz", "onnx::MatMul_7_zero_point"], ["mi"]),
             helper.make_node("Cast", ["mi"], ["mf"], to=1),
             helper.make_node("Mul", ["xs", "onnx::MatMul_7_scale"], ["s"]),
             helper.make_node("Mul", ["mf", "s"], ["m"]), helper.make_node("Add", ["m", "lin.bias"], ["y"])]  # fmt: skip
    with open_onnx(_save(_linear_graph(nodes, inits), tmp_path / "m.onnx")) as ck:
        assert set(ck.tensors) == {"lin.weight", "lin.bias"}
        expected = ((wq.astype(np.float32) - zp.astype(np.float32)) * scale).T
        assert np.allclose(ck.read("lin.weight"), expected) and ck.tensors["lin.weight"].shape == (4, 6)
        assert ck.renamed["lin.weight"] == ("onnx::MatMul_7_quantized", "bias")


@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_orientation_and_its_bias_input(tmp_path: Path, trans_b: int) -> None:
    w = np.random.default_rng(3).normal(size=(4, 6)).astype(np.float32)  # [out, in]
    stored = w if trans_b else np.ascontiguousarray(w.T)
    inits = [numpy_helper.from_array(stored, "onnx::Gemm_3"), numpy_helper.from_array(np.zeros(4, np.float32), "fc.bias")]
    nodes = [helper.make_node("Gemm", ["x", "onnx::Gemm_3", "fc.bias"], ["y"], transB=trans_b)]
    with open_onnx(_save(_linear_graph(nodes, inits), tmp_path / "m.onnx")) as ck:
        assert np.array_equal(ck.read("fc.weight"), w)
        assert np.array_equal(ck.read("fc.weight", rows=slice(1, 3)), w[1:3])


def test_structure_survives_shape_ops_on_the_residual_stream(tmp_path: Path) -> None:
    """TorchScript exports hang Shape nodes on every hidden state; the post-norm test still sees the
    residual Add among the norm output's consumers."""
    e = export("bert", "anonymous", hidden=HIDDEN)
    nodes = []
    for n in e.model.graph.node:
        nodes.append(n)
        if n.op_type == "LayerNormalization":
            nodes += [helper.make_node("Shape", [n.output[0]], [f"{n.output[0]}_shape{j}"]) for j in range(6)]
    del e.model.graph.node[:]
    e.model.graph.node.extend(nodes)
    onnx.checker.check_model(e.model)
    model = load_model(_save(e.model, tmp_path / "m.onnx"))
    assert model.spec.family == "bert" and model.unknown == []
    for (role, layer), w in _expected(e.weights).items():
        assert np.allclose(model.get(Role(role), layer), w, atol=1e-6), (role, layer)
