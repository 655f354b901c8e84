"""Ranged reads from a hub keep one connection open, and fall back cleanly when a server will not."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from heredity.checkpoint._hub_source import Connections, RemoteFile, _kept_alive_get
from heredity.errors import InputError

BLOB = bytes(range(256)) * 64


class Server(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = "ranges"  # or "close" (Connection: close after each answer) or "ignore" (200 with everything)
    connections: list[tuple[str, int]] = []

    def setup(self) -> None:
        super().setup()
        Server.connections.append(self.client_address)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        first, last = (int(x) for x in self.headers["Range"].removeprefix("bytes=").split("-"))
        body = BLOB if self.mode == "ignore" else BLOB[first:last + 1]
        self.send_response(200 if self.mode == "ignore" else 206)
        self.send_header("Content-Length", str(len(body)))
        if self.mode == "close":
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def url() -> Iterator[str]:
    Server.connections = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/org/name/resolve/main/model.safetensors"
    server.shutdown()
    server.server_close()
    Server.mode = "ranges"


def _reads(url: str) -> RemoteFile:
    f = RemoteFile("model.safetensors", url, len(BLOB), {})
    for start in range(0, 4000, 200):
        assert f.read(start, start + 150) == BLOB[start:start + 150]
    f.connections.close()
    return f


def test_many_reads_one_connection(url: str) -> None:
    f = _reads(url)
    assert f.requests == 20 and f.fetched == 20 * 150
    assert len(Server.connections) == 1


def test_a_server_that_closes_each_connection_still_serves(url: str) -> None:
    Server.mode = "close"
    _reads(url)
    assert len(Server.connections) == 20


def test_a_server_that_ignores_ranges_is_named(url: str) -> None:
    Server.mode = "ignore"
    f = RemoteFile("model.safetensors", url, len(BLOB), {})
    with pytest.raises(InputError, match="ignored the Range request"):
        f.read(10, 20)
    f.connections.close()


def test_a_configured_proxy_is_left_to_urllib(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    connections = Connections()
    assert _kept_alive_get(url, {"Range": "bytes=10-19"}, 10, connections) == BLOB[10:20]
    connections.close()
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("no_proxy", "")
    proxied = Connections()  # the environment is read once per set of connections (one per checkpoint)
    assert _kept_alive_get(url, {"Range": "bytes=10-19"}, 10, proxied) is None  # urllib applies the proxy
    assert proxied.proxied("http", "127.0.0.1")
    proxied.close()
