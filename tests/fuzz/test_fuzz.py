"""The fuzzer's inputs that once crashed stay fixed, and a short seeded slice of every target runs clean.

``benchmarks/fuzz.py`` is the fuzzer (run it long by hand; docs/LOG.md records the runs).  Every input
it ever reported is stored in ``crashers/`` as ``TARGET-KIND-HASH.bin`` and replayed here against the
same target; the slice runs each target for a few seconds (``HEREDITY_FUZZ_SECONDS``, default 4) with a
fixed seed, so a regression in any parser shows up as a named finding.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import fuzz  # noqa: E402

CRASHERS = Path(__file__).parent / "crashers"
SLICE_SECONDS = float(os.environ.get("HEREDITY_FUZZ_SECONDS", "4"))


def _target_of(path: Path) -> str:
    name = path.name
    for kind in ("-crash-", "-slow-"):
        if kind in name:
            return name.split(kind)[0]
    raise AssertionError(f"crasher {name} is not named TARGET-KIND-HASH.bin")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """One prepared work folder per target (companion files: shards, external data, config)."""
    folders: dict[str, Path] = {}
    for name, target in fuzz.TARGETS.items():
        folders[name] = tmp_path_factory.mktemp(f"fuzz-{name}")
        target.prepare(folders[name])
    yield folders


@pytest.mark.parametrize("crasher", sorted(CRASHERS.glob("*.bin")), ids=lambda p: p.name)
def test_crasher_is_fixed(crasher: Path, prepared: dict[str, Path]) -> None:
    target = fuzz.TARGETS[_target_of(crasher)]
    refused, exc = fuzz.run_one(target, crasher.read_bytes(), prepared[target.name], timeout=10)
    assert exc is None, f"{crasher.name}: {fuzz.signature(exc)}: {exc}"


def test_every_target_has_seeds(prepared: dict[str, Path], tmp_path: Path) -> None:
    for name, target in fuzz.TARGETS.items():
        work = tmp_path / name
        work.mkdir()
        seeds = target.prepare(work)
        assert seeds, name
        refused, exc = fuzz.run_one(target, seeds[0], work, timeout=10)
        assert exc is None and not refused, f"{name}: its first seed should parse"


def test_mutator_is_deterministic_and_mutates() -> None:
    data = bytes(range(256)) * 8
    runs = [[fuzz.mutate(data, rng, [data]) for _ in range(50)] for rng in (random.Random(3), random.Random(3))]
    assert runs[0] == runs[1]
    assert sum(out != data for out in runs[0]) >= 45


def test_harness_reports_a_foreign_exception(tmp_path: Path) -> None:
    """A target that raises something other than a HeredityError is a finding, saved as a crasher."""

    def run(data: bytes, work: Path) -> None:
        if data[:1] == b"x":
            raise ZeroDivisionError("boom")

    target = fuzz.Target("toy", lambda work: [b"xyz", b"abc"], run)
    stats = fuzz.fuzz_target(target, count=200, seconds=30, seed=1, crashers=tmp_path)
    assert stats.inputs == 200 and stats.crashes > 0 and stats.findings[0].signature.startswith("ZeroDivisionError")
    assert (tmp_path / stats.findings[0].file).read_bytes()[:1] == b"x"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(fuzz.TARGETS))
def test_fuzz_slice(name: str) -> None:
    stats = fuzz.fuzz_target(fuzz.TARGETS[name], count=1_000_000, seconds=SLICE_SECONDS, seed=12, crashers=None,
                             slow_s=5.0)  # a hang, not load on a shared machine
    assert stats.inputs > 50
    assert not stats.findings, [f"{f.kind} {f.signature}: {f.message}" for f in stats.findings]
