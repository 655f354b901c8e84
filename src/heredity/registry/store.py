"""The registry database: one SQLite file of content-addressed fingerprints.

Layout (schema version :data:`SCHEMA_VERSION`, kept in ``PRAGMA user_version``; the file is marked as
heredity's with ``PRAGMA application_id``)::

    entries(key PRIMARY KEY,           sha256 of the fingerprint content (codec.content_key)
            name UNIQUE, source, revision, family, shape (indexed), tokenizer, version, added_at,
            layers, hidden, vocab, params, experts,
            sketch BLOB,               the prefilter sketch (sketch.py)
            doc BLOB, arrays BLOB)     the fingerprint (codec.encode)
    tensor_hashes(hash, key)           sha256 of each non-constant canonical tensor -> entry (indexed)

Durability: the file is in WAL mode; every add or remove is one ``BEGIN IMMEDIATE`` transaction, so a
writer killed at any point leaves either the whole entry or none of it; concurrent writers wait for
each other (busy timeout, then a bounded retry).  Opening refuses, with one line and exit 2, a file
that is not SQLite, an SQLite file that is not a heredity registry, a registry written by a newer
heredity (higher schema version) and a damaged file.  Older schemas are migrated forward in place.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from heredity import __version__
from heredity.errors import InputError, UsageError, safe_name
from heredity.fingerprint.model import Fingerprint
from heredity.registry import codec
from heredity.registry.sketch import SKETCH_DTYPE, SKETCH_TOKENS, shape_signature, sketch

APPLICATION_ID = 0x48524454  # "HRDT"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0
RETRIES = 20
MIN_INDEXED_NUMEL = 64  # tensors smaller than this are not worth a hash-index row
SQLITE_MAGIC = b"SQLite format 3\x00"
GENERIC_STEMS = frozenset({"model", "ckpt", "pytorch_model", "consolidated", "weights"})  # named with their folder

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1
    """
    CREATE TABLE entries (
        key TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, source TEXT NOT NULL, revision TEXT,
        family TEXT NOT NULL, shape TEXT NOT NULL, tokenizer TEXT, version TEXT NOT NULL,
        added_at TEXT NOT NULL, layers INTEGER, hidden INTEGER, vocab INTEGER, params INTEGER,
        experts INTEGER, sketch BLOB NOT NULL, doc BLOB NOT NULL, arrays BLOB NOT NULL
    );
    CREATE INDEX entries_shape ON entries(shape);
    CREATE TABLE tensor_hashes (
        hash TEXT NOT NULL, key TEXT NOT NULL REFERENCES entries(key) ON DELETE CASCADE,
        PRIMARY KEY (hash, key)
    ) WITHOUT ROWID;
    CREATE INDEX tensor_hashes_key ON tensor_hashes(key);
    """,
)

#: Test hook: called inside the add transaction after the entry row is written (kill -9 tests).
_after_entry_insert: Callable[[], None] | None = None


class RegistryError(InputError):
    """The registry file cannot be used (not a registry, newer schema, damaged) or an entry is missing."""


@dataclass(frozen=True)
class Entry:
    """One registered model (everything but the fingerprint bytes)."""

    key: str
    name: str
    source: str
    revision: str | None
    family: str
    shape: str
    tokenizer: str | None
    version: str
    added_at: str
    layers: int | None
    hidden: int | None
    vocab: int | None
    params: int | None
    experts: int | None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class AddResult:
    entry: Entry
    added: bool  # False: the same content was already registered (``entry`` is the existing one)


ENTRY_COLUMNS = ", ".join(Entry.__dataclass_fields__)


def default_path() -> Path:
    """``$HEREDITY_REGISTRY``, else ``$XDG_DATA_HOME/heredity/registry.db`` (``~/.local/share/...``)."""
    env = os.environ.get("HEREDITY_REGISTRY")
    if env:
        return Path(env)
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "heredity" / "registry.db"


class Registry:
    """An open registry; use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, create: bool = True,
                 readonly: bool = False) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._conn = _connect(self.path, create and not readonly, readonly)
        try:
            with _sql_errors(self.path):
                _prepare(self._conn, self.path, readonly)
        except BaseException:
            self._conn.close()
            raise

    # -- context -------------------------------------------------------------------------------
    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    # -- writing -------------------------------------------------------------------------------
    def add(self, fp: Fingerprint, *, source: str, name: str | None = None, revision: str | None = None,
            tokenizer: str | None = None) -> AddResult:
        """Register ``fp`` in one transaction; a fingerprint already present is not added again."""
        doc, arrays = codec.encode(fp)
        return self._insert(fp, doc, arrays, codec.content_key(doc, arrays), source=source, name=name,
                            revision=revision, tokenizer=tokenizer)

    def add_encoded(self, doc: bytes, arrays: bytes, *, source: str, name: str | None = None,
                    revision: str | None = None, tokenizer: str | None = None) -> AddResult:
        """:meth:`add` for a fingerprint already encoded (by a scan worker): decoded and checked first."""
        key = codec.content_key(doc, arrays)
        fp = codec.decode(doc, arrays, source, expect_key=key)
        return self._insert(fp, doc, arrays, key, source=source, name=name, revision=revision, tokenizer=tokenizer)

    def _insert(self, fp: Fingerprint, doc: bytes, arrays: bytes, key: str, *, source: str, name: str | None,
                revision: str | None, tokenizer: str | None) -> AddResult:
        row = _row(fp, key, source, revision, tokenizer)
        with self._write() as cur:
            existing = self._entry_where(cur, "key = ?", key)
            if existing is not None:
                return AddResult(existing, added=False)
            row["name"] = self._free_name(cur, name, source, key)
            cur.execute(f"INSERT INTO entries ({', '.join(row)}, sketch, doc, arrays) "
                        f"VALUES ({', '.join('?' * (len(row) + 3))})",
                        (*row.values(), sketch(fp).astype(SKETCH_DTYPE).tobytes(), doc, arrays))
            if _after_entry_insert is not None:
                _after_entry_insert()
            cur.executemany("INSERT OR IGNORE INTO tensor_hashes (hash, key) VALUES (?, ?)",
                            [(h, key) for h in indexed_hashes(fp)])
            return AddResult(Entry(**row), added=True)

    def remove(self, name: str) -> Entry:
        with self._write() as cur:
            entry = self._resolve(cur, name)
            cur.execute("DELETE FROM tensor_hashes WHERE key = ?", (entry.key,))
            cur.execute("DELETE FROM entries WHERE key = ?", (entry.key,))
            return entry

    def import_from(self, other: Registry) -> tuple[list[Entry], list[Entry]]:
        """Copy every entry of ``other`` after verifying it (its key is recomputed from its content);
        one transaction: a single tampered entry refuses the whole import.  Returns (added, present)."""
        verified = [(e, other.fingerprint(e.key)) for e in other.entries()]
        added, present = [], []
        with self._write() as cur:
            for e, fp in verified:
                doc, arrays = codec.encode(fp)
                if self._entry_where(cur, "key = ?", e.key) is not None:
                    present.append(e)
                    continue
                row = _row(fp, e.key, e.source, e.revision, e.tokenizer) | {"added_at": e.added_at,
                                                                           "version": e.version}
                row["name"] = self._free_name(cur, e.name, e.source, e.key)
                cur.execute(f"INSERT INTO entries ({', '.join(row)}, sketch, doc, arrays) "
                            f"VALUES ({', '.join('?' * (len(row) + 3))})",
                            (*row.values(), sketch(fp).astype(SKETCH_DTYPE).tobytes(), doc, arrays))
                cur.executemany("INSERT OR IGNORE INTO tensor_hashes (hash, key) VALUES (?, ?)",
                                [(h, e.key) for h in indexed_hashes(fp)])
                added.append(Entry(**row))
        return added, present

    def export_to(self, target: str | os.PathLike[str]) -> int:
        """Write every entry into one new registry file ``target`` (refuses to overwrite)."""
        target = Path(target)
        if target.exists():
            raise UsageError("export target already exists", fix="choose a new file name")
        if not target.parent.is_dir():
            raise UsageError(f"no folder {safe_name(target.parent)} for the export", fix="create it first")
        with _sql_errors(self.path):
            self._conn.execute("VACUUM INTO ?", (str(target),))
        return self.count()

    # -- reading -------------------------------------------------------------------------------
    def count(self) -> int:
        with _sql_errors(self.path):
            return int(self._conn.execute("SELECT count(*) FROM entries").fetchone()[0])

    def entries(self) -> list[Entry]:
        with _sql_errors(self.path):
            cur = self._conn.execute(f"SELECT {ENTRY_COLUMNS} FROM entries ORDER BY added_at, name")
            return [Entry(*r) for r in cur.fetchall()]

    def get(self, name: str) -> Entry:
        """An entry by name, or by key (or a unique key prefix of at least 8 hex digits)."""
        with _sql_errors(self.path):
            return self._resolve(self._conn.cursor(), name)

    def entry(self, key: str) -> Entry | None:
        with _sql_errors(self.path):
            return self._entry_where(self._conn.cursor(), "key = ?", key)

    def has_key(self, key: str) -> bool:
        with _sql_errors(self.path):
            return self._conn.execute("SELECT 1 FROM entries WHERE key = ?", (key,)).fetchone() is not None

    def fingerprint(self, key: str) -> Fingerprint:
        """The stored fingerprint, verified against its key (a damaged or edited entry is refused)."""
        with _sql_errors(self.path):
            row = self._conn.execute("SELECT name, doc, arrays FROM entries WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise RegistryError(f"no entry with key {key[:12]}", path=self.path)
        name, doc, arrays = row
        return codec.decode(bytes(doc), bytes(arrays), source=str(name), expect_key=key)

    def sketches(self) -> tuple[list[str], list[str], np.ndarray]:
        """``(keys, shapes, matrix [n, SKETCH_TOKENS])`` of every entry, for the prefilter."""
        with _sql_errors(self.path):
            rows = self._conn.execute("SELECT key, shape, sketch FROM entries").fetchall()
        matrix = np.zeros((len(rows), SKETCH_TOKENS), dtype=SKETCH_DTYPE)
        for i, (_, _, blob) in enumerate(rows):
            v = np.frombuffer(blob, dtype=SKETCH_DTYPE)
            matrix[i, : min(v.size, SKETCH_TOKENS)] = v[:SKETCH_TOKENS]
        return [r[0] for r in rows], [r[1] for r in rows], matrix

    def keys_sharing_hashes(self, hashes: list[str]) -> dict[str, int]:
        """Entries holding any of these tensor hashes -> how many of them."""
        out: dict[str, int] = {}
        with _sql_errors(self.path):
            for i in range(0, len(hashes), 500):
                chunk = hashes[i: i + 500]
                q = f"SELECT key, count(*) FROM tensor_hashes WHERE hash IN ({','.join('?' * len(chunk))}) GROUP BY key"
                for key, n in self._conn.execute(q, chunk):
                    out[key] = out.get(key, 0) + int(n)
        return out

    def integrity(self) -> str:
        with _sql_errors(self.path):
            return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])

    # -- internals -----------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        """One ``BEGIN IMMEDIATE`` transaction, retried while another writer holds the lock."""
        cur = self._conn.cursor()
        with _sql_errors(self.path):
            _begin_immediate(cur)
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def _entry_where(self, cur: sqlite3.Cursor, where: str, *args: object) -> Entry | None:
        row = cur.execute(f"SELECT {ENTRY_COLUMNS} FROM entries WHERE {where}", args).fetchone()
        return None if row is None else Entry(*row)

    def _resolve(self, cur: sqlite3.Cursor, name: str) -> Entry:
        entry = self._entry_where(cur, "name = ?", name)
        if entry is None and len(name) >= 8 and all(c in "0123456789abcdef" for c in name.lower()):
            rows = cur.execute(f"SELECT {ENTRY_COLUMNS} FROM entries WHERE key LIKE ?", (name.lower() + "%",)).fetchall()
            entry = Entry(*rows[0]) if len(rows) == 1 else None
        if entry is None:
            raise RegistryError(f"no entry named '{safe_name(name)}'", path=self.path,
                                fix="see the names with: heredity registry list")
        return entry

    def _free_name(self, cur: sqlite3.Cursor, name: str | None, source: str, key: str) -> str:
        if name is not None:
            if self._entry_where(cur, "name = ?", name) is not None:
                raise UsageError(f"the name '{safe_name(name)}' is already taken by another entry",
                                 fix="choose another --name, or remove the old entry first")
            return name
        base = default_name(source)
        if self._entry_where(cur, "name = ?", base) is None:
            return base
        return f"{base}@{key[:8]}"


def default_name(source: str) -> str:
    """A model's default entry name: the folder or file name (``org/name`` for hub ids)."""
    p = Path(source)
    if p.exists():
        p = p.resolve()
        return f"{p.parent.name}/{p.name}" if p.is_file() and p.stem in GENERIC_STEMS else (p.name or str(p))
    return source.split("@", 1)[0]


def indexed_hashes(fp: Fingerprint) -> list[str]:
    """The tensor hashes worth indexing: non-constant tensors of at least MIN_INDEXED_NUMEL values."""
    return sorted({h for h, numel, constant in fp.hashes.values() if not constant and numel >= MIN_INDEXED_NUMEL})


def _row(fp: Fingerprint, key: str, source: str, revision: str | None, tokenizer: str | None) -> dict[str, Any]:
    s = fp.spec
    return {"key": key, "name": "", "source": source, "revision": revision, "family": s.family,
            "shape": shape_signature(fp), "tokenizer": tokenizer, "version": __version__,
            "added_at": datetime.now(UTC).isoformat(timespec="microseconds"), "layers": s.layers,
            "hidden": s.hidden_size, "vocab": s.vocab_size, "params": fp.params, "experts": s.experts}


def _connect(path: Path, create: bool, readonly: bool = False) -> sqlite3.Connection:
    if path.is_dir():
        raise RegistryError("is a folder, not a registry file", path=path, fix="give --db a file path")
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as fh:
            if fh.read(16) != SQLITE_MAGIC:
                raise RegistryError("not a heredity registry (not an SQLite file)", path=path,
                                    fix="give --db a registry file, or a new path to create one")
    elif not create and not path.exists():
        raise RegistryError("no registry here", path=path, fix="create it with: heredity registry add MODEL --db FILE")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        target = f"{path.resolve().as_uri()}?mode=ro" if readonly else str(path)
        conn = sqlite3.connect(target, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False,
                               uri=readonly)
    except sqlite3.Error as exc:
        raise RegistryError(f"cannot open the registry ({exc})", path=path) from None
    return conn


def _prepare(conn: sqlite3.Connection, path: Path, readonly: bool = False) -> None:
    """Check the file is ours and current; create or migrate it (one transaction)."""
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA foreign_keys = ON")
    _check_owner(conn, path)
    cur = conn.cursor()
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if readonly and version != SCHEMA_VERSION:
        if version > SCHEMA_VERSION:
            raise RegistryError(f"written by a newer heredity (registry schema {version}, this one reads up to "
                                f"{SCHEMA_VERSION})", path=path, fix="upgrade heredity: pip install -U heredity")
        raise RegistryError(f"not a heredity registry of schema {SCHEMA_VERSION} (schema {version})", path=path,
                            fix="open it once with a current heredity to migrate it")
    if readonly:
        return
    if version < SCHEMA_VERSION:
        _begin_immediate(cur)
        try:
            _check_owner(conn, path)
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        cur.execute(statement)
            cur.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            cur.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")
    elif version > SCHEMA_VERSION:
        raise RegistryError(f"written by a newer heredity (registry schema {version}, this one reads up to "
                            f"{SCHEMA_VERSION})", path=path, fix="upgrade heredity: pip install -U heredity")
    _retry(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
    conn.execute("PRAGMA synchronous = NORMAL")


def _check_owner(conn: sqlite3.Connection, path: Path) -> None:
    app = int(conn.execute("PRAGMA application_id").fetchone()[0])
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app != APPLICATION_ID and (app != 0 or tables):
        raise RegistryError("not a heredity registry (an SQLite file of something else)", path=path,
                            fix="give --db a registry file, or a new path to create one")


def _begin_immediate(cur: sqlite3.Cursor) -> None:
    _retry(lambda: cur.execute("BEGIN IMMEDIATE"))


def _retry(op: Callable[[], object]) -> None:
    """Run ``op``, retrying while the database is locked beyond the busy timeout."""
    for attempt in range(RETRIES):
        try:
            op()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or attempt == RETRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


@contextmanager
def _sql_errors(path: Path) -> Iterator[None]:
    """A damaged file surfaces as sqlite3.DatabaseError; make it one line and exit 2."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
            raise RegistryError("the registry stayed locked by another writer", path=path,
                                fix="retry when the other heredity process has finished") from None
        raise RegistryError(f"the registry file is damaged or unreadable ({exc})", path=path,
                            fix="restore it from an export (heredity registry import) or start a new one") from None
