"""safetensors reader: row reads touch only their bytes, dtypes convert, NaN/Inf are noted."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from heredity.checkpoint.safetensors_reader import open_safetensors
from heredity.checkpoint.scan import row_chunks, scan_nonfinite
from heredity.checkpoint.writers import save_safetensors
from heredity.errors import CorruptCheckpointError, InputError


def _raw_file(path: Path, entries: dict[str, tuple[str, list[int], bytes]]) -> Path:
    """A safetensors file from (dtype, shape, bytes) triples, for dtypes our writer does not emit."""
    header, data = {}, b""
    for name, (dtype, shape, payload) in entries.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


@pytest.mark.parametrize(
    ("dtype", "np_dtype"),
    [
        ("F64", np.float64),
        ("F8_E4M3", ml_dtypes.float8_e4m3fn),
        ("F8_E5M2", ml_dtypes.float8_e5m2),
        ("I32", np.int32),
        ("I16", np.int16),
        ("I8", np.int8),
        ("U8", np.uint8),
        ("BOOL", np.bool_),
    ],
)
def test_every_dtype_reads_as_float32(tmp_path: Path, dtype: str, np_dtype: type) -> None:
    values = np.array([[0, 1, 2], [3, 4, 0]], dtype=np.float32) % (2 if dtype == "BOOL" else 8)
    stored = values.astype(np_dtype)
    path = _raw_file(tmp_path / "t.safetensors", {"t": (dtype, [2, 3], stored.tobytes())})
    with open_safetensors(path) as ckpt:
        out = ckpt.read("t")
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, stored.astype(np.float32))


def test_rows_read_only_their_bytes(tmp_path: Path) -> None:
    a = np.arange(1000 * 8, dtype=np.float32).reshape(1000, 8)
    with open_safetensors(save_safetensors({"a": a}, tmp_path / "a.safetensors")) as ckpt:
        raw = ckpt.read_raw("a", rows=slice(500, 502))
        np.testing.assert_array_equal(ckpt.read("a", rows=slice(500, 502)), a[500:502])
        np.testing.assert_array_equal(ckpt.read("a", rows=slice(1, 20, 7)), a[1:20:7])
        np.testing.assert_array_equal(ckpt.read("a", rows=slice(-3, None)), a[-3:])
        assert ckpt.read("a", rows=slice(5, 2)).shape == (0, 8)
    assert raw.base is not None and raw.nbytes == 2 * 8 * 4  # a view of 64 bytes, not the tensor


def test_scalars_and_empty_tensors(tmp_path: Path) -> None:
    arrays = {"s": np.array(3.5, np.float32), "e": np.zeros((0, 4), np.float32), "x": np.ones(2, np.float32)}
    with open_safetensors(save_safetensors(arrays, tmp_path / "s.safetensors")) as ckpt:
        assert ckpt.read("s").shape == () and float(ckpt.read("s")) == 3.5
        assert ckpt.read("e").shape == (0, 4)
        with pytest.raises(InputError, match="scalar"):
            ckpt.read("s", rows=slice(0, 1))


def test_unknown_name_and_closed(tmp_path: Path) -> None:
    ckpt = open_safetensors(save_safetensors({"x": np.ones(2, np.float32)}, tmp_path / "c.safetensors"))
    with pytest.raises(InputError, match="no tensor named 'y'"):
        ckpt.read("y")
    ckpt.read("x")
    ckpt.close()
    with pytest.raises(InputError, match="closed"):
        ckpt.read("x")


def test_inventory_in_storage_order_and_metadata_allowed(tmp_path: Path) -> None:
    path = save_safetensors(
        {"z": np.ones(3, np.float32), "a": np.ones(2, np.float32)},
        tmp_path / "o.safetensors",
        metadata={"format": "pt"},
    )
    with open_safetensors(path) as ckpt:
        assert list(ckpt.tensors) == ["z", "a"]
        assert ckpt.tensors["z"].nbytes == 12 and ckpt.tensors["z"].file == str(path)


def test_nonfinite_values_warn_and_are_counted(tmp_path: Path) -> None:
    a = np.ones((300, 4), np.float32)
    a[5, 1], a[250, 2], a[299, 3] = np.nan, np.inf, -np.inf
    with open_safetensors(
        save_safetensors({"a": a, "ok": np.ones(3, np.float32)}, tmp_path / "n.safetensors")
    ) as ckpt:
        ckpt.read("ok")
        assert ckpt.warnings == []
        ckpt.read("a", rows=slice(0, 10))
        assert len(ckpt.warnings) == 1 and "'a' has 1 non-finite" in ckpt.warnings[0]
        assert scan_nonfinite(ckpt) == {"a": 3}
        assert scan_nonfinite(ckpt, ["ok"]) == {}


def test_row_chunks_cover_the_tensor() -> None:
    chunks = row_chunks((1000, 256), chunk_bytes=256 * 4 * 300)
    assert [(c.start, c.stop) for c in chunks if c is not None] == [
        (0, 300),
        (300, 600),
        (600, 900),
        (900, 1000),
    ]
    assert row_chunks((5,)) == [None] and row_chunks(()) == [None]


def test_config_beside_must_be_an_object(tmp_path: Path) -> None:
    path = save_safetensors({"x": np.ones(2, np.float32)}, tmp_path / "m.safetensors")
    (tmp_path / "config.json").write_text('{"model_type": "qwen2"}')
    with open_safetensors(path) as ckpt:
        assert ckpt.config == {"model_type": "qwen2"}
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(CorruptCheckpointError, match=r"config\.json.*not a JSON object"):
        open_safetensors(path)


def test_reads_stay_correct_after_pages_are_released(tmp_path: Path) -> None:
    """read() unmaps the pages it copied; a second read (and a raw view) must see the same bytes."""
    a = (
        np.random.default_rng(1).standard_normal((512, 1024)).astype(np.float32)
    )  # 2 MB: above the release size
    with open_safetensors(save_safetensors({"a": a}, tmp_path / "big.safetensors")) as ckpt:
        view = ckpt.read_raw("a", rows=slice(100, 300))
        np.testing.assert_array_equal(ckpt.read("a"), a)
        np.testing.assert_array_equal(ckpt.read("a", rows=slice(3, 400)), a[3:400])
        np.testing.assert_array_equal(view, a[100:300])
        np.testing.assert_array_equal(ckpt.read("a"), a)


def test_huge_finite_values_are_not_called_nonfinite(tmp_path: Path) -> None:
    """The fast check's sum of squares overflows here; the exact check must clear the tensor."""
    a = np.full((4, 4), 3e30, np.float32)
    with open_safetensors(save_safetensors({"a": a}, tmp_path / "h.safetensors")) as ckpt:
        np.testing.assert_array_equal(ckpt.read("a"), a)
        assert ckpt.warnings == [] and scan_nonfinite(ckpt) == {}
