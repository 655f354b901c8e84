"""Reads announced ahead (``Checkpoint.prefetch``) over the virtual hub: same arrays, each range fetched
once, requests in flight side by side, bounded memory, and a comparison whose answer does not change."""

from __future__ import annotations

import importlib.util
import json
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

pytest.importorskip("huggingface_hub")

from heredity.checkpoint import hub_reader  # noqa: E402
from heredity.checkpoint.hub_reader import open_hub  # noqa: E402
from heredity.errors import InputError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
A = "vhub/tiny-qwen2.5-14b"
Q = "model.layers.1.self_attn.q_proj.weight"
DOWN = "model.layers.0.mlp.down_proj.weight"
NORM = "model.layers.0.input_layernorm.weight"


def _load() -> ModuleType:
    if "virtual_hub" in sys.modules:
        return sys.modules["virtual_hub"]
    spec = importlib.util.spec_from_file_location("virtual_hub", ROOT / "benchmarks" / "virtual_hub.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["virtual_hub"] = mod
    spec.loader.exec_module(mod)
    return mod


vh = _load()


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    hub = vh.VirtualHub(vh.catalog("tiny"), latency_s=0.02)  # a round trip long enough to overlap
    hub.start()
    yield hub
    hub.stop()


@pytest.fixture
def hub(server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.port}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HEREDITY_HUB_CONNECTIONS", raising=False)
    return server


def _stats(hub: Any) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{hub.port}/_vhub/stats", timeout=30) as r:
        return dict(json.loads(r.read()))


def _requests(hub: Any) -> int:
    return int(_stats(hub)["repos"][A]["requests"])


READS: list[tuple[str, slice | None]] = [(Q, slice(3, 9)), (Q, slice(20, 40)), (DOWN, None), (NORM, None),
                                         (DOWN, slice(0, 1)), (Q, slice(60, 64))]


def test_prefetched_reads_give_the_same_arrays_and_are_fetched_once(hub: Any) -> None:
    with open_hub(A) as plain:
        want = [plain.read(n, rows) for n, rows in READS]
    with open_hub(A) as ck:
        hub.reset()
        ck.prefetch(READS)
        got = [ck.read(n, rows) for n, rows in READS]
        distinct = len(READS) - 1  # DOWN rows 0:1 lie inside the whole DOWN already ahead
        assert _requests(hub) == distinct
        assert _stats(hub)["peak_in_flight"] >= 2  # fetched side by side, not one after the other
    for w, g in zip(want, got, strict=True):
        assert g.dtype == np.float32 and np.array_equal(w, g)


def test_a_read_inside_a_prefetched_range_is_cut_from_it(hub: Any) -> None:
    with open_hub(A) as plain:
        whole, part = plain.read(Q, slice(0, 32)), plain.read(Q, slice(4, 9))
    with open_hub(A) as ck:
        hub.reset()
        ck.prefetch([(Q, slice(0, 32)), (Q, slice(4, 9))])  # the second lies inside the first: no request
        assert np.array_equal(ck.read(Q, slice(4, 9)), part)  # cut from the bytes ahead, which stay
        assert np.array_equal(ck.read(Q, slice(0, 32)), whole)  # the last announced read: let go
        assert _requests(hub) == 1
        ck.read(Q, slice(4, 9))
        assert _requests(hub) == 2  # nothing held any more


def test_one_connection_means_no_reads_ahead(hub: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEREDITY_HUB_CONNECTIONS", "1")
    with open_hub(A) as ck:
        hub.reset()
        ck.prefetch(READS)
        assert _requests(hub) == 0
        for n, rows in READS:
            ck.read(n, rows)
        assert _requests(hub) == len(READS)


@pytest.mark.parametrize("bad", ["0", "many", "65", "-3"])
def test_a_bad_connection_count_is_an_input_error(hub: Any, monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("HEREDITY_HUB_CONNECTIONS", bad)
    with pytest.raises(InputError, match="HEREDITY_HUB_CONNECTIONS"), open_hub(A) as ck:  # shards open side by side
        ck.prefetch(READS)


def test_reads_ahead_stop_at_the_byte_cap(hub: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_hub(A) as ck:
        one = ck.info(DOWN).nbytes * 2  # held as float32
        monkeypatch.setattr(hub_reader, "AHEAD_BYTES", one + 10)
        hub.reset()
        ck.prefetch([(DOWN, None), (Q, None), (NORM, None)])
        ck.read(DOWN)  # frees the room, but the requests past the cap were not queued
        assert _requests(hub) == 1
        ck.read(Q)
        assert _requests(hub) == 2


def test_closing_with_reads_still_ahead_is_clean(hub: Any) -> None:
    ck = open_hub(A)
    names = [n for n in ck.tensors][:40]
    ck.prefetch([(n, None) for n in names])
    ck.close()  # cancels what has not started and waits for the rest; nothing raises
    assert ck.bytes_fetched <= sum(ck.info(n).nbytes for n in names) + 1_000_000


def test_a_compare_gives_the_same_answer_with_and_without_reads_ahead(
    hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heredity.compare import compare

    answers = []
    for width in ("1", "16"):
        monkeypatch.setenv("HEREDITY_HUB_CONNECTIONS", width)
        for b in ("vhub/tiny-indep-14b", "vhub/tiny-pangu-moe-upcycled"):
            c = compare(A, b, thorough=True)
            answers.append((c.verdict.label, c.verdict.p_value,
                            [(e.test, e.applicable, e.statistic, e.p_value) for e in c.evidence],
                            sorted(c.bytes_read.items())))
    assert answers[:2] == answers[2:]
    assert [a[0] for a in answers[:2]] == ["independent", "related"]


def test_a_read_fetched_ahead_brings_its_digest_and_count(hub: Any) -> None:
    from heredity.checkpoint.recorder import digest

    with open_hub(A) as ck:
        ck.prefetch([(Q, slice(3, 9))])
        values, sha, bad = ck.read_checked(Q, slice(3, 9))
        assert sha == digest(values) and bad == 0
        values, sha, bad = ck.read_checked(Q, slice(3, 9))  # nothing ahead any more: computed by the caller
        assert sha is None and bad is None


def test_each_announced_read_gets_pristine_values(hub: Any) -> None:
    with open_hub(A) as plain:
        want, strided = plain.read(Q, slice(0, 32)), plain.read(Q, slice(0, 32, 3))
    with open_hub(A) as ck:
        hub.reset()
        ck.prefetch([(Q, slice(0, 32)), (Q, slice(0, 32)), (Q, slice(0, 32, 3))])  # the strided one rides along
        first = ck.read(Q, slice(0, 32))
        first[:] = 7.0  # a caller may write into what it got
        assert np.array_equal(ck.read(Q, slice(0, 32, 3)), strided)
        assert np.array_equal(ck.read(Q, slice(0, 32)), want)
        assert _requests(hub) == 1
