"""``heredity scan``: fingerprint many models into the registry, then report their lineage forest and
each one's nearest registered base.

Two engines do the fingerprinting (the expensive part: every tensor is read once):

* ``local`` — one process, one source after another.
* ``ray`` — Ray Data (extra ``ray``): the sources become a dataset mapped by a pool of actors
  (:class:`FingerprintActor`, ``--workers`` of them); each actor opens the registry once, read-only,
  to skip content already registered.  ``ray.init()`` starts a local Ray instance unless one is running,
  and joins an existing cluster unchanged when ``RAY_ADDRESS`` is set.  Actors return encoded
  fingerprints; **the driver is the only writer**, so SQLite never sees writers from the cluster.

Either way the scan is resumable (content already registered is reported as skipped, not added again)
and a source that cannot be read is recorded with its one-line error without stopping the scan.
Afterwards every scanned model is searched against the whole registry (:func:`heredity.registry.search`,
Holm over all entries), which gives each one's nearest related base and, among the scanned models,
the edges of the lineage forest (:func:`heredity.matrix.spanning_forest`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heredity.errors import HeredityError, UsageError, require, safe_name
from heredity.matrix import MatrixResult, TreeEdge, orient, spanning_forest
from heredity.registry import codec
from heredity.registry.search import SearchResult, search
from heredity.registry.store import Entry, Registry
from heredity.results import Comparison

SCAN_SCHEMA = "heredity.scan/1"
ENGINES = ("local", "ray")
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Failure:
    source: str
    error: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "error": self.error}


@dataclass(frozen=True)
class Nearest:
    """A scanned model's nearest related registered entry (``base`` None when none is related)."""

    name: str
    source: str
    base: str | None
    p_adjusted: float | None
    outcome: str  # the search's outcome (related | none_related | inconclusive | empty)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class ScanResult:
    engine: str
    added: tuple[Entry, ...]
    skipped: tuple[Entry, ...]  # already registered (same content)
    failed: tuple[Failure, ...]
    edges: tuple[TreeEdge, ...] = ()
    roots: tuple[str, ...] = ()
    nearest: tuple[Nearest, ...] = ()
    forest: MatrixResult | None = field(default=None, compare=False)

    @property
    def anything_done(self) -> bool:
        return bool(self.added or self.skipped)

    def to_dict(self) -> dict[str, Any]:
        def brief(e: Entry) -> dict[str, Any]:
            return {"name": e.name, "key": e.key, "source": e.source, "family": e.family, "shape": e.shape}

        return {"schema": SCAN_SCHEMA, "engine": self.engine, "added": [brief(e) for e in self.added],
                "skipped": [brief(e) for e in self.skipped], "failed": [f.to_dict() for f in self.failed],
                "edges": [e.to_dict() for e in self.edges], "roots": list(self.roots),
                "nearest": [n.to_dict() for n in self.nearest]}


def fingerprint_source(source: str) -> dict[str, Any]:
    """Fingerprint one source into plain, picklable data: ``ok`` with the encoded fingerprint and its
    facts, or not ``ok`` with a one-line ``error`` (heredity's own message; a bug is named as such)."""
    from heredity.registry.ingest import ingest

    try:
        got = ingest(source)
        doc, arrays = codec.encode(got.fingerprint)
    except HeredityError as exc:
        return {"source": source, "ok": False, "error": str(exc)}
    except Exception as exc:  # a bug, or a file no reader handles gracefully: keep scanning
        return {"source": source, "ok": False, "error": f"internal error: {type(exc).__name__}: {safe_name(exc)}"}
    return {"source": source, "ok": True, "resolved": got.source, "revision": got.revision,
            "tokenizer": got.tokenizer, "doc": doc, "arrays": arrays, "key": codec.content_key(doc, arrays),
            "error": ""}


class FingerprintActor:
    """A Ray Data actor: opens the registry once (read-only) and fingerprints one source per call;
    content the registry already holds comes back without its bytes (``known``)."""

    def __init__(self, db: str) -> None:
        try:
            self.registry: Registry | None = Registry(db, readonly=True)
        except HeredityError:  # a node without the registry's file system: the driver still de-duplicates
            self.registry = None

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {k: [] for k in ("source", "ok", "known", "resolved", "revision", "tokenizer",
                                                     "doc", "arrays", "key", "error")}
        for source in batch["source"]:
            row = fingerprint_source(str(source))
            known = bool(row["ok"]) and self.registry is not None and self.registry.has_key(str(row["key"]))
            if known:
                row["doc"], row["arrays"] = b"", b""
            row["known"] = known
            for k in out:
                out[k].append(row.get(k) if row.get(k) is not None else ("" if k not in ("ok", "known") else False))
        return out


def read_sources(sources: Sequence[str], from_file: str | None) -> list[str]:
    """SOURCES plus the lines of ``--from FILE`` (blank lines and ``#`` comments skipped), de-duplicated."""
    listed = list(sources)
    if from_file is not None:
        try:
            text = Path(from_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read --from file ({exc.strerror})", fix="give a text file, one source a line") from None
        listed += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if not listed:
        raise UsageError("nothing to scan", fix="give SOURCES or --from FILE")
    return list(dict.fromkeys(x for source in listed for x in expand(source)))


MODEL_FILE_SUFFIXES = (".safetensors", ".gguf", ".bin", ".pt", ".pth", ".onnx")


def expand(source: str) -> list[str]:
    """A folder of models (no config.json and no safetensors of its own) stands for the models in it:
    its sub-folders and model files, one level down, sorted; anything else is one source."""
    path = Path(source)
    if not path.is_dir() or (path / "config.json").exists() or any(path.glob("*.safetensors")):
        return [source]
    children = sorted(p for p in path.iterdir() if not p.name.startswith(".") and ".tmp-" not in p.name
                      and (p.is_dir() or p.suffix in MODEL_FILE_SUFFIXES))
    return [str(p) for p in children] or [source]


def scan(sources: Sequence[str], registry: Registry, *, engine: str = "local", workers: int = 2,
         progress: Progress | None = None, seed: int = 0) -> ScanResult:
    """Fingerprint ``sources`` into ``registry`` and report the forest among them (module docstring)."""
    if engine not in ENGINES:
        raise UsageError(f"unknown engine '{safe_name(engine)}'", fix=f"choose one of {', '.join(ENGINES)}")
    report = progress or (lambda step, done, total: None)
    rows = _run_ray(sources, registry, workers) if engine == "ray" else (fingerprint_source(s) for s in sources)
    added: list[Entry] = []
    skipped: list[Entry] = []
    failed: list[Failure] = []
    position: dict[str, int] = {}  # entry key -> first position of its source on the command line
    where = {s: i for i, s in enumerate(sources)}
    for done, row in enumerate(rows, 1):
        _write(registry, row, added, skipped, failed)
        if row["ok"] and row["key"]:
            position.setdefault(str(row["key"]), where.get(str(row["source"]), len(where)))
        report("fingerprinting", done, len(sources))
    by_input = sorted({e.key: e for e in added + skipped}.values(), key=lambda e: position.get(e.key, len(where)))
    added.sort(key=lambda e: position.get(e.key, len(where)))
    skipped.sort(key=lambda e: position.get(e.key, len(where)))
    failed.sort(key=lambda f: where.get(f.source, len(where)))
    scanned = by_input
    edges, roots, nearest, forest = _lineage(registry, scanned, report, seed)
    return ScanResult(engine, tuple(added), tuple(skipped), tuple(failed), edges, roots, nearest, forest)


def _write(registry: Registry, row: dict[str, Any], added: list[Entry], skipped: list[Entry],
           failed: list[Failure]) -> None:
    """The single writer: one transaction per fingerprint."""
    if not row["ok"]:
        failed.append(Failure(str(row["source"]), str(row["error"])))
        return
    if row.get("known"):
        entry = registry.entry(str(row["key"]))
        if entry is not None:
            skipped.append(entry)
            return
    try:
        got = registry.add_encoded(bytes(row["doc"]), bytes(row["arrays"]), source=str(row["resolved"]),
                                   revision=row["revision"] or None, tokenizer=row["tokenizer"] or None)
    except HeredityError as exc:
        failed.append(Failure(str(row["source"]), str(exc)))
        return
    (added if got.added else skipped).append(got.entry)


def _run_ray(sources: Sequence[str], registry: Registry, workers: int) -> Any:
    """Ray Data over the sources; yields the actors' rows as they finish."""
    ray: Any = require("ray", "ray", "heredity scan --engine ray")
    data: Any = require("ray.data", "ray", "heredity scan --engine ray")
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS") or None, log_to_driver=False)
    ctx = data.DataContext.get_current()
    ctx.enable_progress_bars = False  # heredity draws its own bar
    ds = data.from_items([{"source": s} for s in sources], override_num_blocks=max(1, min(len(sources), 4 * workers)))
    mapped = ds.map_batches(FingerprintActor, fn_constructor_kwargs={"db": str(registry.path.resolve())},
                            batch_size=1, concurrency=max(1, workers), num_cpus=1, batch_format="default")
    for row in mapped.iter_rows():
        yield {k: (v.item() if hasattr(v, "item") and not isinstance(v, bytes | str) else v) for k, v in row.items()}


def _lineage(registry: Registry, scanned: list[Entry], report: Progress,
             seed: int) -> tuple[tuple[TreeEdge, ...], tuple[str, ...], tuple[Nearest, ...], MatrixResult | None]:
    """Search every scanned model against the registry; related pairs among them form the forest."""
    index = {e.key: i for i, e in enumerate(scanned)}
    pairs: dict[tuple[int, int], Comparison] = {}
    nearest = []
    for i, e in enumerate(scanned):
        result = search(registry, registry.fingerprint(e.key), exclude={e.key}, seed=seed)
        nearest.append(_nearest(e, result))
        for m in result.related:
            j = index.get(m.key)
            if j is not None:
                pair = (min(i, j), max(i, j))
                old = pairs.get(pair)
                if old is None or (m.comparison.verdict.p_value or 1.0) < (old.verdict.p_value or 1.0):
                    pairs[pair] = m.comparison
        report("searching the registry", i + 1, len(scanned))
    names = [e.name for e in scanned]
    if not names:
        return (), (), tuple(nearest), None
    edges, roots = orient(names, spanning_forest(len(names), pairs))
    forest = MatrixResult(tuple(names), pairs, edges, roots, version=_version())
    return edges, roots, tuple(nearest), forest


def _nearest(e: Entry, result: SearchResult) -> Nearest:
    best = result.related[0] if result.related else None
    return Nearest(e.name, e.source, best.name if best else None, best.p_adjusted if best else None,
                   str(result.outcome))


def _version() -> str:
    from heredity import __version__

    return __version__


def table_rows(result: ScanResult) -> list[dict[str, Any]]:
    """One flat row per source (for JSONL / Parquet): status, entry, nearest base."""
    near = {n.name: n for n in result.nearest}
    rows: list[dict[str, Any]] = []
    for status, entries in (("added", result.added), ("skipped", result.skipped)):
        for e in entries:
            n = near.get(e.name)
            rows.append({"status": status, "source": e.source, "name": e.name, "key": e.key, "family": e.family,
                         "shape": e.shape, "error": None, "nearest_base": n.base if n else None,
                         "nearest_p_adjusted": n.p_adjusted if n else None})
    rows += [{"status": "failed", "source": f.source, "name": None, "key": None, "family": None, "shape": None,
              "error": f.error, "nearest_base": None, "nearest_p_adjusted": None} for f in result.failed]
    return rows


def write_table(result: ScanResult, path: str) -> str:
    """``path`` ending in .parquet: Parquet (needs pyarrow); anything else: JSON lines.  Returns the format."""
    import json

    rows = table_rows(result)
    if path.endswith(".parquet"):
        pa = require("pyarrow", "ray", "writing Parquet")
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)  # type: ignore[attr-defined]
        return "parquet"
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return "jsonl"
