"""Crafted evil files: each must raise an InputError subclass naming the file, never crash or run code."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heredity.checkpoint import open_checkpoint
from heredity.checkpoint.safetensors_header import parse_header, read_header
from heredity.checkpoint.writers import save_hf_folder, save_safetensors
from heredity.errors import (
    CorruptCheckpointError,
    InputError,
    NotFoundError,
    UnsafeCheckpointError,
    UnsupportedFormatError,
)


def _write(path: Path, header: Any, data: bytes = b"", length: int | None = None) -> Path:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw) if length is None else length) + raw + data)
    return path


def _t(dtype: str = "F32", shape: Any = (2,), offsets: Any = (0, 8)) -> dict[str, Any]:
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


CASES: list[tuple[str, Any, bytes, int | None, type[InputError], str]] = [
    ("huge_header", {"a": _t()}, bytes(8), 1 << 40, CorruptCheckpointError, "exceeds"),
    ("header_past_eof", {"a": _t()}, b"", 5000, CorruptCheckpointError, "past the end"),
    ("not_json", b"{this is not json", bytes(8), None, CorruptCheckpointError, "not valid JSON"),
    ("not_utf8", b"{\xff\xfe}", b"", None, CorruptCheckpointError, "not valid JSON"),
    ("json_list", [1, 2, 3], b"", None, CorruptCheckpointError, "not an object"),
    ("entry_not_object", {"a": 7}, b"", None, CorruptCheckpointError, "must be an object"),
    ("missing_offsets", {"a": {"dtype": "F32", "shape": [2]}}, bytes(8), None, CorruptCheckpointError, "must be an object"),
    ("unknown_dtype", {"a": _t(dtype="Q4_Z")}, bytes(8), None, UnsupportedFormatError, "unknown dtype"),
    ("negative_shape", {"a": _t(shape=(-2,))}, bytes(8), None, CorruptCheckpointError, "non-negative"),
    ("float_shape", {"a": _t(shape=(2.0,))}, bytes(8), None, CorruptCheckpointError, "non-negative"),
    ("bool_shape", {"a": _t(shape=(True,), offsets=(0, 4))}, bytes(8), None, CorruptCheckpointError, "non-negative"),
    ("offsets_past_eof", {"a": _t()}, bytes(4), None, CorruptCheckpointError, "truncated"),
    ("offsets_mismatch", {"a": _t(offsets=(0, 12))}, bytes(12), None, CorruptCheckpointError, "do not match"),
    ("offsets_reversed", {"a": _t(offsets=(8, 0))}, bytes(8), None, CorruptCheckpointError, "do not match"),
    ("offsets_strings", {"a": _t(offsets=("0", "8"))}, bytes(8), None, CorruptCheckpointError, "two integers"),
    ("overlap", {"a": _t(offsets=(0, 8)), "b": _t(offsets=(4, 12))}, bytes(12), None, CorruptCheckpointError, "overlap"),
    ("huge_shape", {"a": _t(shape=(1 << 40, 1 << 40), offsets=(0, 8))}, bytes(8), None, CorruptCheckpointError, "do not match"),
    ("bad_metadata", {"__metadata__": {"k": 1}, "a": _t()}, bytes(8), None, CorruptCheckpointError, "__metadata__"),
    ("duplicate_key", b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{}}', bytes(8), None, CorruptCheckpointError, "duplicate"),
    ("deep_nesting", b"[" * 100000 + b"]" * 100000, b"", None, CorruptCheckpointError, "not valid JSON"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "header", "data", "length", "error", "match"), CASES, ids=[c[0] for c in CASES]
)
def test_evil_safetensors(
    tmp_path: Path, name: str, header: Any, data: bytes, length: int | None, error: type, match: str
) -> None:
    path = _write(tmp_path / f"{name}.safetensors", header, data, length)
    with pytest.raises(error, match=match) as info:
        open_checkpoint(path)
    assert f"{name}.safetensors" in str(info.value) and "\n" not in str(info.value)


def test_truncated_file(tmp_path: Path) -> None:
    path = save_safetensors({"a": np.ones((64, 64), np.float32)}, tmp_path / "cut.safetensors")
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CorruptCheckpointError, match=r"cut\.safetensors.*truncated"):
        open_checkpoint(path)
    path.write_bytes(b"\x01\x00")
    with pytest.raises(CorruptCheckpointError, match="too short"):
        open_checkpoint(path)


def _sharded(tmp_path: Path) -> Path:
    arrays = {f"w{i}": np.full((4, 4), i, np.float32) for i in range(3)}
    return save_hf_folder(arrays, {"model_type": "llama"}, tmp_path / "m", max_shard_bytes=64)


def _set_index(folder: Path, weight_map: Any) -> None:
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))


@pytest.mark.parametrize(
    "target", ["../outside.safetensors", "/etc/passwd", "sub/../../x.safetensors", "a\\..\\b"]
)
def test_index_pointing_outside_folder(tmp_path: Path, target: str) -> None:
    folder = _sharded(tmp_path)
    _set_index(folder, {"w0": target})
    with pytest.raises(UnsafeCheckpointError, match=r"index\.json.*outside the model folder"):
        open_checkpoint(folder)


def test_index_symlink_leading_out(tmp_path: Path) -> None:
    folder = _sharded(tmp_path)
    save_safetensors({"w0": np.ones(2, np.float32)}, tmp_path / "secret.safetensors")
    (folder / "link.safetensors").symlink_to(tmp_path / "secret.safetensors")
    _set_index(folder, {"w0": "link.safetensors"})
    with pytest.raises(UnsafeCheckpointError, match="link leading outside"):
        open_checkpoint(folder)


def test_missing_shard_and_missing_tensor(tmp_path: Path) -> None:
    folder = _sharded(tmp_path)
    (folder / "model-00002-of-00003.safetensors").unlink()
    with pytest.raises(NotFoundError, match=r"shard 'model-00002-of-00003\.safetensors'.*missing"):
        open_checkpoint(folder)
    _set_index(
        folder, {"w0": "model-00001-of-00003.safetensors", "ghost": "model-00001-of-00003.safetensors"}
    )
    with pytest.raises(CorruptCheckpointError, match="'ghost'.*lacks it"):
        open_checkpoint(folder)


@pytest.mark.parametrize("index", ['{"weight_map": [1]}', '{"weight_map": {"a": 3}}', "[]", "{oops"])
def test_malformed_index(tmp_path: Path, index: str) -> None:
    folder = _sharded(tmp_path)
    (folder / "model.safetensors.index.json").write_text(index)
    with pytest.raises(CorruptCheckpointError, match=r"index\.json"):
        open_checkpoint(folder)


@pytest.mark.parametrize(
    ("header", "why"),
    [
        ((64, 172, 5, 8, 4, 512, 512), "header implies"),  # sane dims, wrong length
        ((1 << 30, 172, 5, 8, 4, 512, 512), "outside"),
        ((64, 172, 5, 8, 4, -(1 << 31), 512), "outside"),
        ((64, 172, 5, 7, 4, 512, 512), "inconsistent"),
        ((64, 172, 5, 8, 0, 512, 512), "inconsistent"),
        ((0, 0, 0, 0, 0, 0, 0), "outside"),
    ],
)
def test_llama2c_absurd_headers(tmp_path: Path, header: tuple[int, ...], why: str) -> None:
    from heredity.checkpoint.llama2c_reader import open_llama2c

    path = tmp_path / "evil.bin"
    path.write_bytes(struct.pack("<7i", *header) + bytes(4096))
    with pytest.raises(CorruptCheckpointError, match=why) as info:
        open_llama2c(path)
    assert "evil.bin" in str(info.value)
    sane = why == "header implies"  # a sane header over too few bytes is a truncated llama2.c export
    with pytest.raises(CorruptCheckpointError if sane else UnsupportedFormatError,
                       match="evil.bin.*truncated llama2.c" if sane else "evil.bin"):
        open_checkpoint(path)  # no reader claims the others


class _Evil:
    """Unpickling this would create a marker file through os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def test_evil_plain_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    marker = tmp_path / "pwned"
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(pickle.dumps({"w": _Evil(marker)}, protocol=2))
    with pytest.raises(UnsafeCheckpointError, match=r"pytorch_model\.bin.*refuses.*system"):
        open_checkpoint(path)
    assert not marker.exists()


def test_evil_zip_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    marker = tmp_path / "pwned"
    path = tmp_path / "ckpt.pt"
    torch.save({"model": {"w": torch.ones(2)}, "payload": _Evil(marker)}, path)
    assert not marker.exists()
    with pytest.raises(UnsafeCheckpointError, match=r"ckpt\.pt"):
        open_checkpoint(path)
    assert not marker.exists()


def test_truncated_zip_checkpoint(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "cut.pt"
    torch.save({"w": torch.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:600])
    with pytest.raises(InputError, match=r"cut\.pt"):
        open_checkpoint(path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=300), length=st.integers(0, 400) | st.integers(0, 1 << 64 - 1))
def test_fuzz_whole_file_raw_bytes(body: bytes, length: int) -> None:
    """A random length prefix + random bytes: the header reader raises InputError or succeeds."""
    data = struct.pack("<Q", length) + body
    with contextlib.suppress(InputError):
        read_header(io.BytesIO(data), len(data), "fuzz.safetensors")


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 70), 1 << 70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
_entries = st.fixed_dictionaries(
    {
        "dtype": st.sampled_from(["F32", "BF16", "I8", "X"]) | _json_values,
        "shape": _json_values,
        "data_offsets": _json_values,
    }
)


@settings(max_examples=300, deadline=None)
@given(
    doc=st.dictionaries(st.text(max_size=8), _entries | _json_values, max_size=5), extra=st.integers(0, 256)
)
def test_fuzz_header_parser_json_shapes(doc: dict[str, Any], extra: int) -> None:
    raw = json.dumps(doc).encode()
    try:
        header = parse_header(raw, 8 + len(raw) + extra, "fuzz.safetensors")
    except InputError:
        return
    for e in header.entries:  # whatever survives is consistent with the file
        assert header.data_start <= e.start <= e.stop <= 8 + len(raw) + extra
