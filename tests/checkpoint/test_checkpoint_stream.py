"""Streaming statistics (checkpoint/stream.py) against numpy on the same values, for every path:
raw bf16 / f16 / f32 streams, several chunks, odd counts, unaligned starts, NaN/Inf, the read() fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from heredity.checkpoint import MemoryCheckpoint, open_checkpoint
from heredity.checkpoint import stream as st
from heredity.checkpoint.writers import save_safetensors
from heredity.errors import CorruptCheckpointError, InputError

RNG = np.random.default_rng(7)


def arrays() -> dict[str, np.ndarray]:
    out = {
        "w": (RNG.standard_normal((300, 129)) * 0.02).astype(np.float32),  # several chunks, odd width
        "odd": RNG.standard_normal((3, 7)).astype(np.float32),
        "norm": (1 + 1e-3 * RNG.standard_normal(5001)).astype(np.float32),  # mean >> spread
        "ones": np.ones(640, np.float32),
        "scalar": np.array(3.0, np.float32),
        "empty": np.zeros((0, 4), np.float32),
        "bad": RNG.standard_normal(3001).astype(np.float32),
    }
    out["bad"][[5, 99, 2999]] = [np.nan, np.inf, -np.inf]
    return out


def reference(x: np.ndarray) -> tuple[int, float, float, int, int]:
    v = np.asarray(x, np.float64).ravel()
    fin = v[np.isfinite(v)]
    mean = float(fin.mean()) if fin.size else 0.0
    return fin.size, mean, float(np.sum((fin - mean) ** 2)), int(np.isnan(v).sum()), int(np.isinf(v).sum())


def assert_close(got: st.TensorStats, want: tuple[int, float, float, int, int]) -> None:
    count, mean, m2, nan, inf = want
    assert (got.count, got.nan_count, got.inf_count) == (count, nan, inf)
    spread = (m2 / count) ** 0.5 if count else 0.0
    assert abs(got.mean - mean) <= 1e-6 * (abs(mean) + spread) + 1e-30
    assert abs(got.m2 - m2) <= 1e-4 * m2 + 1e-20


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 1024 elements so that every tensor above spans many chunks and a ragged tail."""
    monkeypatch.setattr(st, "CHUNK_ELEMENTS", 1024)
    monkeypatch.setattr(st, "DROP_BYTES", 4096)


@pytest.mark.parametrize("dtype", ["BF16", "F16", "F32"])
def test_streamed_stats_match_numpy(tmp_path: Path, dtype: str) -> None:
    data = arrays()
    save_safetensors(data, tmp_path / "m.safetensors", dtype=dtype)
    with open_checkpoint(tmp_path / "m.safetensors") as ck:
        found = st.stream_all(ck, threads=2)
        assert list(found) == list(ck.tensors)
        for name in data:
            assert_close(found[name], reference(ck.read(name)))  # the stored (rounded) values
            assert found[name] == st.stream_stats(ck, name)  # threads change nothing


def test_bf16_at_an_offset_not_a_multiple_of_four(tmp_path: Path) -> None:
    """A bf16 tensor may start 2 bytes into a 4-byte word (after an odd-length bf16 tensor)."""
    a = np.array([1, 2, 3], np.float32)
    b = RNG.standard_normal(2051).astype(np.float32)
    path = tmp_path / "m.safetensors"
    save_safetensors({"a": a, "b": b}, path, dtype="BF16")
    with open_checkpoint(path) as ck:
        assert ck.span("b").start % 4 == 2
        assert_close(st.stream_stats(ck, "b"), reference(ck.read("b")))


def test_fallback_through_read_for_other_types_and_readers() -> None:
    data = {**arrays(), "f64": RNG.standard_normal((40, 33))}
    ck = MemoryCheckpoint(dict(data))
    for name, x in data.items():
        assert_close(st.stream_stats(ck, name), reference(np.asarray(x, np.float32)))


def test_merge_pools_two_parts() -> None:
    x = RNG.standard_normal(1000)
    both = st.chunk_stats(x[:300]).merge(st.chunk_stats(x[300:]))
    assert_close(both, reference(x))
    assert both.std == pytest.approx(float(x.std()), rel=1e-12)


def test_truncated_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_safetensors({"w": np.ones((64, 64), np.float32)}, path, dtype="BF16")
    ck = open_checkpoint(path)
    with open(path, "r+b") as f:  # cut the file after it was opened and validated
        f.truncate(path.stat().st_size - 100)
    with pytest.raises(CorruptCheckpointError, match="past the end"):
        st.stream_stats(ck, "w")
    ck.close()



@pytest.mark.parametrize("dtype", ["BF16", "F16", "F32"])
def test_blockwise_read_equals_whole_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dtype: str) -> None:
    """``read`` decodes a large tensor block by block (releasing each block's pages): same values."""
    from heredity.checkpoint import mapped

    data = {"w": RNG.standard_normal((301, 67)).astype(np.float32), "v": RNG.standard_normal(999).astype(np.float32)}
    save_safetensors(data, tmp_path / "m.safetensors", dtype=dtype)
    with open_checkpoint(tmp_path / "m.safetensors") as ck:
        whole = {n: ck.read(n) for n in data}
        monkeypatch.setattr(mapped, "_DECODE_BLOCK", 1000)  # bytes: many blocks, a ragged last one
        for name in data:
            got = ck.read(name)
            assert got.dtype == np.float32 and got.flags.c_contiguous
            np.testing.assert_array_equal(got, whole[name])
            np.testing.assert_array_equal(ck.read(name, rows=slice(3, 250)), whole[name][3:250])


def test_streaming_a_closed_checkpoint_is_an_error(tmp_path: Path) -> None:
    save_safetensors({"w": np.ones((8, 8), np.float32)}, tmp_path / "m.safetensors", dtype="BF16")
    ck = open_checkpoint(tmp_path / "m.safetensors")
    ck.close()
    with pytest.raises(InputError, match="closed"):
        st.stream_stats(ck, "w")
