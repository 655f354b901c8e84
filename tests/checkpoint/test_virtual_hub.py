"""The benchmark's virtual hub (benchmarks/virtual_hub.py) at tiny size: protocol, determinism, lineage."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

pytest.importorskip("huggingface_hub")

from heredity.checkpoint.hub_reader import open_hub  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CLI = "from heredity.cli.main import entry; entry()"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("virtual_hub", ROOT / "benchmarks" / "virtual_hub.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["virtual_hub"] = mod  # dataclasses look their module up while building the classes
    spec.loader.exec_module(mod)
    return mod


vh = _load()
A, B, C, D, E = (f"vhub/tiny-{n}" for n in ("qwen2.5-14b", "pangu-moe-upcycled", "pangu-moe-scratch",
                                             "qwen2.5-14b-obfuscated", "indep-14b"))


@pytest.fixture(scope="module")
def hub() -> Iterator[tuple[object, str]]:
    server = vh.VirtualHub(vh.catalog("tiny"))
    port = server.start()
    yield server, f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def env(hub: tuple[object, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    monkeypatch.setenv("HF_ENDPOINT", hub[1])
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return dict(os.environ)


def _get(url: str, rng: str | None = None) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(url, headers={"Range": rng} if rng else {})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, resp.read(), dict(resp.headers)


def test_heredity_opens_the_layout_through_hf_endpoint(env: dict[str, str]) -> None:
    ck = open_hub(A)
    with ck:
        assert ck.config["model_type"] == "qwen2" and ck.config["hidden_size"] == 64
        names = {n for n, _ in vh.tensor_shapes(vh.TINY)}
        assert set(ck.tensors) == names
        q = ck.read("model.layers.1.self_attn.q_proj.weight", rows=slice(3, 9))
        assert ck.bytes_fetched < 20_000  # headers + 6 rows, not the whole model
    src = vh.catalog("tiny")[A].sources["model.layers.1.self_attn.q_proj.weight"]
    want = src.take(np.arange(3, 9), np.arange(64))
    assert np.array_equal(q, (want.view(np.uint32) >> 16 << 16).view(np.float32))  # bf16 truncation
    assert 0.01 < float(want.std()) < 0.04


def test_same_range_same_bytes_and_range_arithmetic(hub: tuple[object, str]) -> None:
    base = hub[1]
    url = f"{base}/cdn/{A}/x/model-00001-of-00001.safetensors"
    status, whole, headers = _get(url)
    assert status == 200 and len(whole) == int(headers["Content-Length"])
    for rng, lo, hi in (("bytes=1001-5000", 1001, 5001), ("bytes=7-7", 7, 8), ("bytes=-100", len(whole) - 100,
                                                                                    len(whole))):
        s1, b1, h1 = _get(url, rng)
        s2, b2, _ = _get(url, rng)
        assert s1 == s2 == 206 and b1 == b2 == whole[lo:hi]
        assert h1["Content-Range"] == f"bytes {lo}-{hi - 1}/{len(whole)}"
    n = int.from_bytes(whole[:8], "little")
    header = json.loads(whole[8 : 8 + n])
    assert header["model.norm.weight"]["dtype"] == "BF16"


def test_model_info_lists_files_with_sizes(env: dict[str, str]) -> None:
    from huggingface_hub import HfApi

    info = HfApi(endpoint=env["HF_ENDPOINT"]).model_info(B, files_metadata=True)
    sizes = {s.rfilename: s.size for s in info.siblings or []}
    assert set(sizes) == {"config.json", "model.safetensors.index.json", "model-00001-of-00001.safetensors"}
    assert all(v for v in sizes.values())


def test_derived_rows_are_parent_rows_plus_noise() -> None:
    cat = vh.catalog("tiny")
    rows, cols = np.arange(0, 40), np.arange(64)
    name = "model.layers.0.mlp.up_proj.weight"
    a = cat[A].sources[name].take(rows, cols)
    e = cat[E].sources[name].take(rows, cols)
    assert abs(np.corrcoef(a.ravel(), e.ravel())[0, 1]) < 0.1  # independent seeds
    # the obfuscated child: row i of its up_proj is parent row Q[i], columns permuted by P, plus noise
    child = cat[D].sources[name]
    view = child.parts[0]
    d = child.take(rows, cols)
    parent_rows = cat[A].sources[name].take(view.row_map[rows], view.col_map[cols])
    noise = d - parent_rows
    assert 0.1 < noise.std() / parent_rows.std() < 0.3
    # the upcycled MoE: expert 3's gate rows are a subset of the dense gate rows, plus noise
    gate = cat[B].sources["model.layers.1.mlp.experts.3.gate_proj.weight"]
    sub = gate.parts[0].row_map
    dense = cat[A].sources["model.layers.1.mlp.gate_proj.weight"].take(sub, cols)
    assert np.corrcoef(gate.take(np.arange(len(sub)), cols).ravel(), dense.ravel())[0, 1] > 0.9


def _compare(a: str, b: str, env: dict[str, str]) -> dict[str, object]:
    env = env | {"PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", CLI, "compare", a, b, "--format", "json"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


@pytest.mark.parametrize(("a", "b", "truth"), [(A, B, "related"), (A, E, "independent"),
                                                (A, D, "related")])
def test_compare_through_the_hub(env: dict[str, str], a: str, b: str, truth: str) -> None:
    assert _compare(a, b, env)["verdict"] == truth
