"""ONNX initialisers: dtypes, DequantizeLinear triples, external data (lazy, row reads), hostile paths."""

from __future__ import annotations

import json
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from heredity.checkpoint.onnx_reader import open_onnx  # noqa: E402
from heredity.errors import CorruptCheckpointError, InputError, UnsafeCheckpointError  # noqa: E402

RNG = np.random.default_rng(0)
W32 = RNG.normal(size=(8, 4)).astype(np.float32)
W16 = RNG.normal(size=(4, 4)).astype(np.float16)
WBF = RNG.normal(size=(4, 6)).astype(ml_dtypes.bfloat16)
Q = RNG.integers(-128, 127, size=(6, 4), dtype=np.int8)
Q_SCALE = np.linspace(0.01, 0.06, 6, dtype=np.float32)  # per output channel (axis 0)
Q_ZERO = np.arange(6, dtype=np.int8) - 3
U = RNG.integers(0, 255, size=(4, 3), dtype=np.uint8)


def build_model() -> onnx.ModelProto:
    """A valid graph holding every initialiser kind; it only has to pass the checker, not be useful."""
    inits = [
        numpy_helper.from_array(W32, "model.w32"),
        numpy_helper.from_array(W16, "model.w16"),
        numpy_helper.from_array(WBF, "model.wbf"),
        numpy_helper.from_array(Q, "model.q_quantized"),
        numpy_helper.from_array(Q_SCALE, "model.q_scale"),
        numpy_helper.from_array(Q_ZERO, "model.q_zero_point"),
        numpy_helper.from_array(U, "model.u_quantized"),
        numpy_helper.from_array(np.array(0.5, np.float32), "model.u_scale"),
        numpy_helper.from_array(np.array(128, np.uint8), "model.u_zero_point"),
        numpy_helper.from_array(np.array([1, 2], np.int64), "shape_const"),  # skipped: int64
    ]
    nodes = [
        helper.make_node(
            "DequantizeLinear", ["model.q_quantized", "model.q_scale", "model.q_zero_point"], ["q"], axis=0
        ),
        helper.make_node(
            "DequantizeLinear", ["model.u_quantized", "model.u_scale", "model.u_zero_point"], ["u"]
        ),
        helper.make_node("MatMul", ["x", "model.w32"], ["h"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [
            helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
            for n, s in (("h", [1, 4]), ("q", [6, 4]), ("u", [4, 3]))
        ],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    onnx.checker.check_model(model)
    return model


@pytest.fixture(params=["inline", "external"])
def model_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / "model.onnx"
    external = request.param == "external"
    onnx.save_model(
        build_model(), str(path), save_as_external_data=external, location="weights.bin", size_threshold=0
    )
    assert (tmp_path / "weights.bin").exists() == external
    return path


def test_inventory_hides_quantisation_parts(model_path: Path) -> None:
    with open_onnx(model_path) as ck:
        assert ck.format == "onnx"
        assert set(ck.tensors) == {"model.w32", "model.w16", "model.wbf", "model.q", "model.u"}
        assert ck.tensors["model.q"].shape == (6, 4) and ck.tensors["model.q"].dtype == "int8"
        assert ck.tensors["model.wbf"].dtype == "bfloat16" and ck.tensors["model.w16"].nbytes == 32


def test_float_types_read_as_float32(model_path: Path) -> None:
    with open_onnx(model_path) as ck:
        for name, ref in (("model.w32", W32), ("model.w16", W16), ("model.wbf", WBF)):
            got = ck.read(name)
            assert got.dtype == np.float32 and np.array_equal(got, ref.astype(np.float32))


def test_dequantize_linear_per_channel_and_per_tensor(model_path: Path) -> None:
    expect_q = (Q.astype(np.float32) - Q_ZERO[:, None]) * Q_SCALE[:, None]
    expect_u = (U.astype(np.float32) - 128) * 0.5
    with open_onnx(model_path) as ck:
        assert np.allclose(ck.read("model.q"), expect_q)
        assert np.allclose(ck.read("model.q", rows=slice(2, 5)), expect_q[2:5])
        assert np.allclose(ck.read("model.u"), expect_u)


def test_row_reads(model_path: Path) -> None:
    with open_onnx(model_path) as ck:
        assert np.array_equal(ck.read("model.w32", rows=slice(3, 6)), W32[3:6])
        assert np.array_equal(ck.read("model.w32", rows=slice(0, 8, 3)), W32[0:8:3])
        assert ck.read("model.w32", rows=slice(7, 100)).shape == (1, 4)


def test_config_json_next_to_model_is_used(model_path: Path) -> None:
    (model_path.parent / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 4}))
    with open_onnx(model_path) as ck:
        assert ck.config == {"model_type": "bert", "hidden_size": 4}


def external_model(tmp_path: Path, location: str, length: int | None = None) -> Path:
    model = build_model()
    path = tmp_path / "m.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, location="weights.bin", size_threshold=0)
    model = onnx.load(str(path), load_external_data=False)
    for entry in model.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = location
        if entry.key == "length" and length is not None:
            entry.value = str(length)
    onnx.save_model(model, str(path))
    return path


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd", "sub/../../outside.bin"])
def test_external_paths_outside_folder_are_refused(tmp_path: Path, location: str) -> None:
    (tmp_path.parent / "outside.bin").write_bytes(b"\0" * 4096)
    with pytest.raises(UnsafeCheckpointError, match="outside the model folder"):
        open_onnx(external_model(tmp_path, location))


def test_external_symlink_escaping_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path.parent / "outside.bin").write_bytes(b"\0" * 4096)
    (tmp_path / "link.bin").symlink_to(tmp_path.parent / "outside.bin")
    with pytest.raises(UnsafeCheckpointError):
        open_onnx(external_model(tmp_path, "link.bin"))


def test_external_length_mismatch_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CorruptCheckpointError, match="out of range"):
        open_onnx(external_model(tmp_path, "weights.bin", length=7))
    path = external_model(tmp_path, "weights.bin")
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(CorruptCheckpointError, match="missing or out of range"):
        open_onnx(path)


def test_truncated_external_file(tmp_path: Path) -> None:
    path = external_model(tmp_path, "weights.bin")
    blob = (tmp_path / "weights.bin").read_bytes()
    (tmp_path / "weights.bin").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CorruptCheckpointError, match="weights.bin"):
        open_onnx(path)


def test_garbage_and_inconsistent_raw_data(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\xff" * 100)
    with pytest.raises(CorruptCheckpointError, match="not a readable ONNX model"):
        open_onnx(junk)
    model = build_model()
    model.graph.initializer[0].raw_data = model.graph.initializer[0].raw_data[:-4]
    bad = tmp_path / "bad.onnx"
    onnx.save_model(model, str(bad))
    with pytest.raises(CorruptCheckpointError, match="holds 124 bytes, shape needs 128"):
        open_onnx(bad)
    with pytest.raises(InputError, match="no such ONNX file"):
        open_onnx(tmp_path / "absent.onnx")


def test_non_finite_initialiser_is_noted(tmp_path: Path) -> None:
    model = build_model()
    bad = W32.copy()
    bad[0, 0] = np.inf
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(bad, "model.w32"))
    path = tmp_path / "inf.onnx"
    onnx.save_model(model, str(path))
    with open_onnx(path) as ck:
        ck.read("model.w32")
        assert len(ck.warnings) == 1 and "model.w32" in ck.warnings[0]
