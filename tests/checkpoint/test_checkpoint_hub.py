"""Hub reader against a local fake hub: only headers and the tensors read travel; offline mode and cache."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

pytest.importorskip("huggingface_hub")

from heredity.checkpoint.hub_reader import open_hub, parse_hub_id  # noqa: E402
from heredity.errors import CorruptCheckpointError, InputError, NotFoundError  # noqa: E402

COMMIT = "0123456789abcdef0123456789abcdef01234567"
RNG = np.random.default_rng(0)
ARRAYS = {
    "model.embed_tokens.weight": RNG.normal(size=(4096, 128)).astype(np.float32),  # 2 MiB
    "model.layers.0.mlp.up_proj.weight": RNG.normal(size=(512, 128)).astype(np.float16),
    "model.layers.0.input_layernorm.weight": RNG.normal(size=(128,)).astype(np.float32),
    "lm_head.weight": RNG.normal(size=(4096, 128)).astype(np.float32),
}
CONFIG = {"model_type": "llama", "hidden_size": 128, "num_hidden_layers": 1}


class FakeHub(BaseHTTPRequestHandler):
    """Serves ``/{org}/{name}/resolve/{rev}/{file}`` from ``repos[org/name]`` with HEAD and Range GETs."""

    repos: dict[str, Path] = {}
    served: list[int] = []

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    def _file(self) -> Path | None:
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            self._error(404, "RepoNotFound")
            return None
        repo, filename = "/".join(parts[:2]), "/".join(parts[4:])
        if repo not in self.repos:
            self._error(404, "RepoNotFound")
            return None
        path = self.repos[repo] / filename
        if not path.is_file():
            self._error(404, "EntryNotFound")
            return None
        return path

    def _error(self, status: int, code: str) -> None:
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _common(self, path: Path, length: int) -> None:
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{path.stat().st_size}-{path.name}"')
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        path = self._file()
        if path is not None:
            self.send_response(200)
            self._common(path, path.stat().st_size)
            self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        path = self._file()
        if path is None:
            return
        data = path.read_bytes()
        first, last = 0, len(data) - 1
        ranged = self.headers.get("Range", "")
        if ranged.startswith("bytes="):
            lo, hi = ranged[6:].split("-")
            first, last = int(lo), min(int(hi), len(data) - 1)
        body = data[first : last + 1]
        self.send_response(206 if ranged else 200)
        self._common(path, len(body))
        if ranged:
            self.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
        self.served.append(len(body))  # before writing: the client may move on as soon as it has the body
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hub")
    single = root / "single"
    single.mkdir()
    save_file(ARRAYS, str(single / "model.safetensors"))
    (single / "config.json").write_text(json.dumps(CONFIG))
    sharded = root / "sharded"
    sharded.mkdir()
    names = sorted(ARRAYS)
    shards = {"model-00001-of-00002.safetensors": names[:2], "model-00002-of-00002.safetensors": names[2:]}
    for shard, keys in shards.items():
        save_file({k: ARRAYS[k] for k in keys}, str(sharded / shard))
    weight_map = {k: shard for shard, keys in shards.items() for k in keys}
    (sharded / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )
    (sharded / "config.json").write_text(json.dumps(CONFIG))
    evil = root / "evil"
    evil.mkdir()
    (evil / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"w": "../../etc/x.safetensors"}})
    )
    truncated = root / "truncated"
    truncated.mkdir()
    (truncated / "model.safetensors").write_bytes((single / "model.safetensors").read_bytes()[:5000])
    return {"org/single": single, "org/sharded": sharded, "org/evil": evil, "org/truncated": truncated}


@pytest.fixture
def hub(repos: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[type[FakeHub]]:
    FakeHub.repos = repos
    FakeHub.served = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield FakeHub
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("repo", ["org/single", "org/sharded"])
def test_reads_two_tensors_fetching_only_their_bytes(
    hub: type[FakeHub], repos: dict[str, Path], repo: str
) -> None:
    total = sum(p.stat().st_size for p in repos[repo].glob("*.safetensors"))
    with open_hub(repo) as ck:
        assert ck.format == "hub" and ck.source == repo
        assert ck.config == CONFIG
        assert set(ck.tensors) == set(ARRAYS)
        assert ck.tensors["model.layers.0.mlp.up_proj.weight"].dtype == "F16"
        after_open = ck.bytes_fetched
        up = ck.read("model.layers.0.mlp.up_proj.weight")
        norm = ck.read("model.layers.0.input_layernorm.weight")
        fetched = ck.bytes_fetched
    assert np.array_equal(up, ARRAYS["model.layers.0.mlp.up_proj.weight"].astype(np.float32))
    assert np.array_equal(norm, ARRAYS["model.layers.0.input_layernorm.weight"])
    assert fetched - after_open == 512 * 128 * 2 + 128 * 4  # exactly the two tensors
    assert fetched == sum(hub.served) and fetched < total / 20  # report: ~0.14 MB of ~4.3 MB
    print(f"{repo}: fetched {fetched} of {total} bytes ({fetched / total:.1%})")


def test_row_reads_fetch_only_those_rows(hub: type[FakeHub]) -> None:
    with open_hub("org/single") as ck:
        before = ck.bytes_fetched
        rows = ck.read("model.embed_tokens.weight", rows=slice(100, 104))
        assert ck.bytes_fetched - before == 4 * 128 * 4
        stepped = ck.read("lm_head.weight", rows=slice(0, 10, 3))
    assert np.array_equal(rows, ARRAYS["model.embed_tokens.weight"][100:104])
    assert np.array_equal(stepped, ARRAYS["lm_head.weight"][0:10:3])


def test_missing_repo_and_missing_weights(hub: type[FakeHub], repos: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="not found or not accessible"):
        open_hub("org/absent")
    empty = tmp_path / "empty"
    empty.mkdir()
    FakeHub.repos = repos | {"org/empty": empty}
    with pytest.raises(NotFoundError, match="model.safetensors not found in the repo"):
        open_hub("org/empty")


def test_hostile_index_and_truncated_file(hub: type[FakeHub]) -> None:
    with pytest.raises(CorruptCheckpointError, match="bad shard"):
        open_hub("org/evil")
    with pytest.raises(CorruptCheckpointError, match="truncated|past the end"):
        open_hub("org/truncated")


@pytest.mark.parametrize("bad", ["noslash", "a/b/c", "../etc", "org/na me", "org/..", ""])
def test_bad_ids_are_refused(bad: str) -> None:
    with pytest.raises(InputError, match="not a hub id"):
        open_hub(bad)


def test_parse_hub_id() -> None:
    assert parse_hub_id("org/name@v1.0") == ("org/name", "v1.0")
    assert parse_hub_id("org/name") == ("org/name", None)


def test_offline_with_empty_cache_is_a_clean_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: must not be contacted
    with pytest.raises(NotFoundError, match="not found in the local HF cache") as info:
        open_hub("org/single")
    assert "HF_HUB_OFFLINE" in str(info.value) and "\n" not in str(info.value)


def test_offline_reads_from_the_local_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, repos: dict[str, Path]
) -> None:
    cache = tmp_path / "cache"
    snapshot = cache / "models--org--single" / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    for f in repos["org/single"].iterdir():
        (snapshot / f.name).symlink_to(f)
    (cache / "models--org--single" / "refs").mkdir()
    (cache / "models--org--single" / "refs" / "main").write_text(COMMIT)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    with open_hub("org/single") as ck:
        emb = ck.read("model.embed_tokens.weight", rows=slice(0, 2))
        assert ck.bytes_fetched == 0 and ck.config == CONFIG
    assert np.array_equal(emb, ARRAYS["model.embed_tokens.weight"][:2])


def test_unreachable_endpoint_is_an_input_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused
    with pytest.raises(InputError, match="cannot reach the hub") as info:
        open_hub("org/single")
    assert "HF_HUB_OFFLINE=1" in str(info.value)
