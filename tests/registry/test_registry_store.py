"""The registry file: content addressing, durability (kill -9, two writers), refusals, export/import."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from heredity.cli.main import main
from heredity.fingerprint import save
from heredity.registry import codec
from heredity.registry.store import Registry, RegistryError
from heredity.registry.synthetic import base_fingerprint, derived_fingerprint

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(scope="module")
def base():  # type: ignore[no-untyped-def]
    return base_fingerprint(1)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _consistent(path: Path) -> int:
    """The file opens, passes integrity_check, every entry decodes against its key, no orphan rows."""
    with Registry(path, create=False) as reg:
        assert reg.integrity() == "ok"
        keys = {e.key for e in reg.entries()}
        for key in keys:
            reg.fingerprint(key)  # verifies the content key
    conn = sqlite3.connect(path)
    orphans = conn.execute("SELECT count(*) FROM tensor_hashes WHERE key NOT IN (SELECT key FROM entries)").fetchone()[0]
    missing = conn.execute("SELECT count(*) FROM entries WHERE key NOT IN (SELECT key FROM tensor_hashes)").fetchone()[0]
    conn.close()
    assert orphans == 0 and missing == 0
    return len(keys)


def test_same_content_is_kept_once_and_says_so(tmp_path: Path, base) -> None:  # type: ignore[no-untyped-def]
    with Registry(tmp_path / "r.db") as reg:
        first = reg.add(base, source="/models/a")
        again = reg.add(base, source="/elsewhere/copy-of-a")
        assert first.added and not again.added and again.entry.key == first.entry.key
        assert reg.count() == 1
        other = reg.add(derived_fingerprint(base, 5), source="/models/a")  # same default name, other content
        assert other.added and other.entry.name != first.entry.name
        with pytest.raises(Exception, match="already taken"):
            reg.add(derived_fingerprint(base, 6), source="x", name=first.entry.name)
        assert reg.count() == 2


def test_codec_round_trip_keeps_the_key(base) -> None:  # type: ignore[no-untyped-def]
    doc, arrays = codec.encode(base)
    key = codec.content_key(doc, arrays)
    back = codec.decode(doc, arrays, "x", expect_key=key)
    assert codec.content_key(*codec.encode(back)) == key
    assert back.keys == base.keys and back.std == base.std and back.hashes == base.hashes
    with pytest.raises(Exception, match="content key"):
        codec.decode(doc.replace(b'"llama"', b'"qwen2"'), arrays, "x", expect_key=key)


KILL_WRITER = """
import sys, time
from heredity.registry import store
from heredity.registry.synthetic import base_fingerprint, derived_fingerprint
reg = store.Registry(sys.argv[1])
base = base_fingerprint(1)
reg.add(base, source="base", name="base")
def inside():
    open(sys.argv[2], "w").write("inside the add transaction")
    time.sleep(120)
store._after_entry_insert = inside
reg.add(derived_fingerprint(base, 2), source="half", name="half")
"""


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else proc.returncode
        assert time.monotonic() < end, "writer never reached the add"
        time.sleep(0.02)


def test_kill_9_in_the_middle_of_an_add_leaves_no_half_entry(tmp_path: Path) -> None:
    db, marker = tmp_path / "r.db", tmp_path / "inside"
    proc = subprocess.Popen([sys.executable, "-c", KILL_WRITER, str(db), str(marker)], env=_env(),
                            stderr=subprocess.PIPE)
    try:
        _wait_for(marker, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        assert proc.stderr is not None
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert _consistent(db) == 1
    with Registry(db, create=False) as reg:
        assert [e.name for e in reg.entries()] == ["base"]
        reg.add(derived_fingerprint(reg.fingerprint(reg.get("base").key), 2), source="half", name="half")
        assert reg.count() == 2  # the killed writer's lock is gone


LOOP_WRITER = """
import sys
from heredity.registry.store import Registry
from heredity.registry.synthetic import base_fingerprint, derived_fingerprint
base = base_fingerprint(int(sys.argv[2]))
with Registry(sys.argv[1]) as reg:
    for i in range(int(sys.argv[3])):
        reg.add(derived_fingerprint(base, 1000 * int(sys.argv[2]) + i), source=f"w{sys.argv[2]}-{i}",
                name=f"w{sys.argv[2]}-{i}")
print("done")
"""


def _count(db: Path) -> int:
    try:
        conn = sqlite3.connect(db)
        try:
            return int(conn.execute("SELECT count(*) FROM entries").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_kill_9_at_random_moments_keeps_the_file_consistent(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    for round_, delay in enumerate((0.3, 0.6, 0.9)):
        proc = subprocess.Popen([sys.executable, "-c", LOOP_WRITER, str(db), str(round_ + 1), "10000"], env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 60
        while _count(db) <= round_ * 2 and time.monotonic() < end:  # this writer has added something
            time.sleep(0.05)
        time.sleep(delay)
        proc.kill()
        proc.wait(timeout=30)
        assert _consistent(db) > round_ * 2


def test_two_processes_adding_at_once_both_succeed(tmp_path: Path) -> None:
    db = tmp_path / "new.db"  # both also race to create it
    procs = [subprocess.Popen([sys.executable, "-c", LOOP_WRITER, str(db), str(w), "15"], env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for w in (1, 2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1].decode()[-2000:] for o in outs]
    assert _consistent(db) == 30


def _one_line_exit_2(args: list[str], capsys: pytest.CaptureFixture[str], what: str) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and what in err, err


def test_refuses_foreign_corrupt_and_newer_files(tmp_path: Path, base, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(8192))
    _one_line_exit_2(["registry", "list", "--db", str(junk)], capsys, "not an SQLite file")

    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE songs (title TEXT)")
    conn.commit()
    conn.close()
    _one_line_exit_2(["registry", "add", "x", "--db", str(foreign)], capsys, "not a heredity registry")

    newer = tmp_path / "newer.db"
    Registry(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    _one_line_exit_2(["registry", "list", "--db", str(newer)], capsys, "newer heredity")

    broken = tmp_path / "broken.db"
    with Registry(broken) as reg:
        for i in range(5):
            reg.add(derived_fingerprint(base, i), source=f"s{i}", name=f"e{i}")
    raw = bytearray(broken.read_bytes())
    raw[100:] = os.urandom(len(raw) - 100)
    broken.write_bytes(bytes(raw))
    _one_line_exit_2(["registry", "list", "--db", str(broken)], capsys, "damaged")
    with pytest.raises(RegistryError):
        Registry(tmp_path / "missing.db", create=False)


def test_searching_an_empty_registry_says_so(tmp_path: Path, base, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "empty.db"
    Registry(db).close()
    query = save(base, tmp_path / "q.json")
    assert main(["registry", "search", str(query), "--db", str(db), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["outcome"] == "empty" and doc["candidates_tested"] == 0 and doc["matches"] == []
    assert doc["query"]["is_fingerprint"] is True
    assert main(["registry", "search", str(query), "--db", str(db)]) == 0
    assert "no entries" in capsys.readouterr().out


def test_export_import_round_trip_and_tamper_refusal(tmp_path: Path, base, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    src, dst, exported = tmp_path / "src.db", tmp_path / "dst.db", tmp_path / "export.hreg"
    with Registry(src) as reg:
        for i in range(3):
            reg.add(derived_fingerprint(base, i), source=f"s{i}", name=f"e{i}")
        before = {e.key: e for e in reg.entries()}
    assert main(["registry", "export", str(exported), "--db", str(src)]) == 0
    assert main(["registry", "import", str(exported), "--db", str(dst)]) == 0
    assert "imported 3" in capsys.readouterr().out
    with Registry(dst, create=False) as reg:
        after = {e.key: e for e in reg.entries()}
        assert set(after) == set(before)
        assert all(after[k].name == before[k].name and after[k].source == before[k].source for k in after)
        fps = {k: reg.fingerprint(k) for k in after}
    assert all(codec.content_key(*codec.encode(fp)) == k for k, fp in fps.items())
    assert main(["registry", "import", str(exported), "--db", str(dst)]) == 0
    assert "3 already present" in capsys.readouterr().out

    conn = sqlite3.connect(exported)
    conn.execute("UPDATE entries SET doc = CAST(replace(CAST(doc AS TEXT), '\"layers\":2', '\"layers\":3') AS BLOB) "
                 "WHERE name = 'e1'")
    conn.commit()
    conn.close()
    fresh = tmp_path / "fresh.db"
    _one_line_exit_2(["registry", "import", str(exported), "--db", str(fresh)], capsys, "content key")
    with Registry(fresh) as reg:
        assert reg.count() == 0  # nothing half-imported
