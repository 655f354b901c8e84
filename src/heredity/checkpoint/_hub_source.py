"""Byte ranges of files in a Hugging Face hub repo: from the local HF cache, or by HTTP Range GETs.

Why not ``hf_hub_download``: it fetches whole files, and heredity's tests need a few tensors of
a multi-gigabyte checkpoint.  ``huggingface_hub`` still builds the URLs, the auth headers and
resolves each file's size and commit (a HEAD request); the bytes come from plain ranged GETs.
``HF_HUB_OFFLINE``, ``HF_ENDPOINT``, ``HF_HOME`` and ``HF_HUB_CACHE`` are read at call time, so they
work even when ``huggingface_hub`` was imported earlier.
"""

from __future__ import annotations

import http.client
import os
import re
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from heredity.errors import CorruptCheckpointError, InputError, NotFoundError, safe_name

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
TIMEOUT_S = 30
OFFLINE_FIX = "download it while online (huggingface-cli download REPO) or unset HF_HUB_OFFLINE"


class ByteSource(Protocol):
    """One file: its size and any byte range of it."""

    name: str
    size: int

    def read(self, start: int, stop: int) -> bytes: ...


@dataclass
class LocalFile:
    """A file already in the local HF cache (or any local path)."""

    name: str
    path: Path
    size: int = 0

    def __post_init__(self) -> None:
        self.size = self.path.stat().st_size

    def read(self, start: int, stop: int) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(start)
            return f.read(stop - start)


@dataclass
class RemoteFile:
    """A file on the hub, read by ranged GETs; ``fetched`` counts the bytes received."""

    name: str
    url: str
    size: int
    headers: dict[str, str]
    fetched: int = 0
    requests: int = 0
    connections: Connections = field(default_factory=lambda: Connections())
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def read(self, start: int, stop: int) -> bytes:
        if start >= stop:
            return b""
        headers = self.headers | {"Range": f"bytes={start}-{stop - 1}"}
        body = _kept_alive_get(self.url, headers, stop - start, self.connections)
        if body is None:  # a proxy, a redirect or an odd answer: the standard library handles it
            body = self._urllib_get(headers, stop - start)
        with self._lock:  # reads ahead run on several threads
            self.fetched += len(body)
            self.requests += 1
        if len(body) != stop - start:
            raise CorruptCheckpointError(f"asked for {stop - start} bytes, got {len(body)}", path=self.url)
        return body

    def _urllib_get(self, headers: dict[str, str], length: int) -> bytes:
        req = urllib.request.Request(self.url, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                if resp.status != 206:
                    raise InputError(
                        f"server ignored the Range request for {safe_name(self.name)}",
                        path=self.url,
                        fix="use a hub endpoint that supports HTTP ranges",
                    )
                body: bytes = resp.read(length + 1)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise InputError(
                f"download failed: {safe_name(exc)}", path=self.url, fix="check the network"
            ) from None
        return body


class Connections:
    """HTTP(S) connections kept open between ranged GETs: one per (scheme, host) and thread, all closed
    by :meth:`close` (a repo closes its own when its checkpoint is closed)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[http.client.HTTPConnection] = []
        self._proxied: dict[tuple[str, str], bool] = {}

    def proxied(self, scheme: str, host: str) -> bool:
        """Whether the environment sends ``scheme://host`` through a proxy, asked once per host for the
        connections' lifetime (urllib reads the whole environment to answer: ~0.1 ms, thousands of
        times in a 7B compare)."""
        key = (scheme, host)
        found = self._proxied.get(key)
        if found is None:
            found = self._proxied[key] = _proxied(scheme, host)
        return found

    def get(self, scheme: str, host: str, port: int | None) -> http.client.HTTPConnection:
        pool: dict[tuple[str, str, int | None], http.client.HTTPConnection] = getattr(self._local, "pool", None) or {}
        self._local.pool = pool
        conn = pool.get((scheme, host, port))
        if conn is None:
            kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            conn = pool[(scheme, host, port)] = kind(host, port, timeout=TIMEOUT_S)
            with self._lock:
                self._open.append(conn)
        return conn

    def drop(self, scheme: str, host: str, port: int | None) -> None:
        pool = getattr(self._local, "pool", None) or {}
        conn = pool.pop((scheme, host, port), None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._open:
                conn.close()
            self._open.clear()
        self._local = threading.local()


def _kept_alive_get(url: str, headers: dict[str, str], length: int, connections: Connections) -> bytes | None:
    """A ranged GET over a connection kept open between reads (a 7B compare makes thousands of small
    reads; a new connection for each doubled their cost).  None when this cannot or should not be done
    here (a proxy is configured, the server redirects or answers anything but 206): the caller then
    uses urllib, which handles those cases."""
    parts = urlparse(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host or connections.proxied(parts.scheme, host):
        return None
    key = (parts.scheme, host, parts.port)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    for attempt in range(2):  # a kept connection the server has closed meanwhile fails once: reopen
        conn = connections.get(*key)
        try:
            conn.request("GET", target, headers=headers)
            resp = conn.getresponse()
            if resp.status != 206 or (resp.length is not None and resp.length > length):
                connections.drop(*key)
                return None
            return resp.read()
        except (http.client.HTTPException, OSError):
            connections.drop(*key)
            if attempt:
                return None  # urllib retries it and reports the failure in its words
    return None


def _proxied(scheme: str, host: str) -> bool:
    proxies = urllib.request.getproxies()
    return scheme in proxies and not urllib.request.proxy_bypass(host)


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _cache_dir() -> str | None:
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return None


@dataclass
class HubRepo:
    """Resolves file names of one repo at one revision to byte sources."""

    repo_id: str
    revision: str | None
    sources: list[ByteSource] = field(default_factory=list)
    label: str = ""  # the id as the user gave it (the revision may later be pinned to a commit)
    connections: Connections = field(default_factory=lambda: Connections())

    def __post_init__(self) -> None:
        if not REPO_ID.match(self.repo_id) or ".." in self.repo_id:
            raise InputError(
                f"not a hub id: '{safe_name(self.repo_id)}'", fix="use org/name or org/name@revision"
            )
        self.label = self.repo_id + (f"@{self.revision}" if self.revision else "")

    def open(self, filename: str) -> ByteSource | None:
        """The file as a byte source; None when the repo has no such file."""
        source = self._cached(filename) or (None if offline() else self._remote(filename))
        if source is not None:
            self.sources.append(source)
        return source

    def _cached(self, filename: str) -> LocalFile | None:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(self.repo_id, filename, cache_dir=_cache_dir(), revision=self.revision)
        return LocalFile(filename, Path(found)) if isinstance(found, str) else None

    def _remote(self, filename: str) -> RemoteFile | None:
        from huggingface_hub import get_hf_file_metadata, hf_hub_url
        from huggingface_hub.utils import build_hf_headers

        endpoint = os.environ.get("HF_ENDPOINT") or None
        url = hf_hub_url(self.repo_id, filename, revision=self.revision, endpoint=endpoint)
        meta = self._metadata(get_hf_file_metadata, url, endpoint)
        if meta is None:
            return None
        if meta.size is None:
            raise InputError(
                f"hub gave no size for {safe_name(filename)}", path=self.label, fix="retry later"
            )
        headers = build_hf_headers()
        if urlparse(meta.location).netloc != urlparse(url).netloc:
            headers.pop("authorization", None)  # never send the token to a CDN or another host
        if meta.commit_hash and self.revision is None:
            self.revision = meta.commit_hash  # pin: every later file comes from the same commit
        return RemoteFile(filename, meta.location, int(meta.size), headers, connections=self.connections)

    def _metadata(self, get: Any, url: str, endpoint: str | None) -> Any:
        from huggingface_hub import errors

        try:
            return get(url, endpoint=endpoint)
        except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError, errors.GatedRepoError) as exc:
            raise NotFoundError(
                f"hub repo not found or not accessible ({type(exc).__name__})",
                path=self.label,
                fix="check the id and revision; for private/gated repos run: hf auth login",
            ) from None
        except (errors.RemoteEntryNotFoundError, errors.EntryNotFoundError):
            return None
        except errors.HfHubHTTPError as exc:
            if exc.response is not None and exc.response.status_code == 404:
                return None
            raise InputError(
                f"hub request failed: {safe_name(exc, 160)}", path=self.label, fix="retry later"
            ) from None
        except Exception as exc:  # network errors come from the hub's HTTP client (httpx flavours)
            raise InputError(
                f"cannot reach the hub: {safe_name(exc, 160)}",
                path=self.label,
                fix="check the network or HF_ENDPOINT, or use HF_HUB_OFFLINE=1 with a cached copy",
            ) from None

    def require(self, filename: str) -> ByteSource:
        source = self.open(filename)
        if source is None:
            where = "in the local HF cache (HF_HUB_OFFLINE is set)" if offline() else "in the repo"
            raise NotFoundError(
                f"{safe_name(filename)} not found {where}",
                path=self.label,
                fix=OFFLINE_FIX if offline() else "check the repo id and revision",
            )
        return source

    @property
    def bytes_fetched(self) -> int:
        return sum(getattr(s, "fetched", 0) for s in self.sources)

    def close(self) -> None:
        """Close the connections kept open for this repo's files."""
        self.connections.close()
