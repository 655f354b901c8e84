"""Hostile GGUF files built byte by byte: every one must fail with a one-line InputError naming the file."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heredity.checkpoint.gguf_reader import open_gguf
from heredity.errors import CorruptCheckpointError, InputError, UnsupportedFormatError

U32, U64, F32_TYPE, STRING, ARRAY = 4, 10, 0, 8, 9


def gstr(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def kv(key: str, vtype: int, payload: bytes) -> bytes:
    return gstr(key) + struct.pack("<I", vtype) + payload


def tensor_info(name: str, ne: tuple[int, ...], ggml_type: int = F32_TYPE, offset: int = 0) -> bytes:
    return (
        gstr(name)
        + struct.pack("<I", len(ne))
        + struct.pack(f"<{len(ne)}Q", *ne)
        + struct.pack("<IQ", ggml_type, offset)
    )


def gguf_bytes(kvs: list[bytes], infos: list[bytes], data: bytes, version: int = 3) -> bytes:
    """A GGUF file: header, key/values, tensor infos, padding to 32, data."""
    head = b"GGUF" + struct.pack("<IQQ", version, len(infos), len(kvs)) + b"".join(kvs) + b"".join(infos)
    return head + b"\0" * (-len(head) % 32) + data


def valid_file() -> bytes:
    arch = kv("general.architecture", STRING, gstr("llama"))
    layers = kv("llama.block_count", U32, struct.pack("<I", 1))
    data = np.arange(8, dtype=np.float32).tobytes()
    return gguf_bytes([arch, layers], [tensor_info("w", (4, 2))], data)


def write(tmp_path: Path, blob: bytes) -> Path:
    p = tmp_path / "evil.gguf"
    p.write_bytes(blob)
    return p


def test_handmade_valid_file_reads(tmp_path: Path) -> None:
    with open_gguf(write(tmp_path, valid_file())) as ck:
        assert ck.tensors["w"].shape == (2, 4)  # ggml ne (4, 2) -> numpy [rows=2, cols=4]
        assert np.array_equal(ck.read("w"), np.arange(8, dtype=np.float32).reshape(2, 4))
        assert ck.config["num_hidden_layers"] == 1


def huge_array_count() -> bytes:
    # an array of 2**60 strings: the gguf package would loop for ever; we refuse up front
    return gguf_bytes([kv("tokenizer.ggml.tokens", ARRAY, struct.pack("<IQ", STRING, 1 << 60))], [], b"")


EVIL = {
    "bad magic": (b"GGUX" + valid_file()[4:], UnsupportedFormatError, "bad magic"),
    "version 1": (valid_file()[:4] + struct.pack("<I", 1) + valid_file()[8:], UnsupportedFormatError, "version"),
    "big endian": (valid_file()[:4] + struct.pack(">I", 3) + valid_file()[8:], UnsupportedFormatError, "big-endian"),
    "too short": (b"GGUF\x03\0\0\0", CorruptCheckpointError, "too short"),
    "truncated data": (valid_file()[:-4], CorruptCheckpointError, "past the end"),
    "truncated header": (valid_file()[:40], CorruptCheckpointError, "needs"),
    "huge array": (huge_array_count(), CorruptCheckpointError, "cannot fit"),
    "huge counts": (b"GGUF" + struct.pack("<IQQ", 3, 1 << 40, 1 << 40) + b"\0" * 64, CorruptCheckpointError, "more than"),
    "huge string": (gguf_bytes([kv("k", STRING, struct.pack("<Q", 1 << 62))], [], b""), CorruptCheckpointError, "needs"),
    "unknown value type": (gguf_bytes([kv("k", 99, b"")], [], b""), CorruptCheckpointError, "value type 99"),
    "unknown ggml type": (gguf_bytes([], [tensor_info("w", (4,), ggml_type=77)], b"\0" * 16),
                          CorruptCheckpointError, "ggml type 77"),
    "five dims": (gguf_bytes([], [tensor_info("w", (1, 1, 1, 1, 1))], b"\0" * 4), CorruptCheckpointError, "5 dimensions"),
    "offset past end": (gguf_bytes([], [tensor_info("w", (4,), offset=1 << 40)], b"\0" * 16),
                        CorruptCheckpointError, "past the end"),
    "huge shape": (gguf_bytes([], [tensor_info("w", (1 << 31, 1 << 31))], b"\0" * 16), CorruptCheckpointError, "past the end"),
    "partial block": (gguf_bytes([], [tensor_info("w", (33,), ggml_type=8)], b"\0" * 64), CorruptCheckpointError, "whole blocks"),
    "duplicate names": (gguf_bytes([], [tensor_info("w", (4,)), tensor_info("w", (4,), offset=32)], b"\0" * 64),
                        CorruptCheckpointError, "share one name"),
    "bad alignment": (gguf_bytes([kv("general.alignment", U32, struct.pack("<I", 3))], [], b""),
                      CorruptCheckpointError, "power of two"),
    "nested arrays": (gguf_bytes([kv("a", ARRAY, struct.pack("<IQ", ARRAY, 1) + struct.pack("<IQ", ARRAY, 1)
                                     + struct.pack("<IQ", ARRAY, 1) + struct.pack("<IQ", U32, 0))], [], b""),
                      CorruptCheckpointError, "nested too deep"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(EVIL))
def test_hostile_file_raises_input_error_naming_file(tmp_path: Path, case: str) -> None:
    blob, error, fragment = EVIL[case]
    path = write(tmp_path, blob)
    with pytest.raises(error, match=fragment) as info:
        open_gguf(path)
    message = str(info.value)
    assert "evil.gguf" in message and "\n" not in message and info.value.fix


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such GGUF file"):
        open_gguf(tmp_path / "absent.gguf")


def test_control_characters_in_names_are_escaped(tmp_path: Path) -> None:
    blob = gguf_bytes([], [tensor_info("w\x1b[31m", (4,), ggml_type=77)], b"\0" * 16)
    with pytest.raises(CorruptCheckpointError) as info:
        open_gguf(write(tmp_path, blob))
    assert "\x1b" not in str(info.value) and "\\x1b" in str(info.value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.integers(0, len(valid_file())),
    flips=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=4),
)
def test_fuzzed_files_fail_cleanly_or_read(tmp_path: Path, cut: int, flips: list[tuple[int, int]]) -> None:
    """Truncations and byte flips never escape as anything but InputError (or a successful read)."""
    blob = bytearray(valid_file()[:cut])
    for pos, value in flips:
        if pos < len(blob):
            blob[pos] = value
    try:
        with open_gguf(write(tmp_path, bytes(blob))) as ck:
            for name in ck.tensors:
                assert ck.read(name).dtype == np.float32
    except InputError:
        pass
