"""Search over a registry of the forge's quick suite (28 models whose lineage is known) plus two real
models: each derived query's true parent comes first; independent queries get no related entry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from heredity.cli.main import main
from heredity.registry import Registry, ingest, search
from heredity.registry.search import SEARCH_SCHEMA

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "realmodels"


@dataclass(frozen=True)
class Registered:
    db: Path
    folder: Path
    keys: dict[str, str]  # model name -> entry key


@pytest.fixture(scope="module")
def registered(quick_suite_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Registered:
    pytest.importorskip("torch")
    from heredity.forge.suite import build_suite

    build_suite(quick_suite_root, quick=True)
    folder = quick_suite_root / "models-quick"
    models = sorted(p for p in folder.iterdir() if ".tmp-" not in p.name)
    models += [p for p in (REAL / "stories260K.bin", REAL / "llama2xs" / "model.bin") if p.is_file()]
    db = tmp_path_factory.mktemp("registry") / "forge.db"
    keys = {}
    with Registry(db) as reg:
        for path in models:
            got = ingest(str(path))
            keys[path.name] = reg.add(got.fingerprint, source=got.source, name=path.name).entry.key
    assert sum(1 for p in models if p.parent == folder) >= 20
    return Registered(db, folder, keys)


# query -> (true parent, entries left out of its search, and why)
DERIVED = {
    "fine-tune": ("llama-s1-ft-almanac", "llama-fables-s1",
                  # its own descendants (merges of it), and a fine-tune of a permuted copy of the parent
                  # on the very same data (nearer to it than the parent: the same recipe moves both alike)
                  ["llama-s1-merge-ft", "llama-s1-ties", "llama-s1-permuted-ft"]),
    "upcycled MoGE": ("qwen2-s1-moge-segments", "qwen2-fables-s1",
                      # the other upcycles of the same parent, healed with the same recipe
                      ["qwen2-s1-moge-copies", "qwen2-s1-upcycle-qwen2moe"]),
    "GGUF quant": ("llama-s1-q4_0.gguf", "llama-fables-s1", []),
    "depth-pruned": ("llama-s1-prune-depth", "llama-fables-s1", []),
    "obfuscated": ("llama-s1-permuted", "llama-fables-s1", ["llama-s1-permuted-ft"]),  # its descendant
}
INDEPENDENT = ["llama-almanac-s3", "moge-fables-s6", "gemma3-fables-s5", "mixtral-fables-s7"]


def _query(reg: Registered, name: str) -> Path:
    return reg.folder / name


@pytest.mark.slow
@pytest.mark.parametrize("case", list(DERIVED))
def test_search_names_the_true_parent_first(registered: Registered, case: str) -> None:
    query, parent, left_out = DERIVED[case]
    exclude = {registered.keys[n] for n in [query, *left_out]}
    with Registry(registered.db, create=False) as reg:
        result = search(reg, ingest(str(_query(registered, query))).fingerprint, exclude=exclude)
        assert result.entries_searched == reg.count() - len(exclude)
    best = result.matches[0]
    assert best.name == parent, [(m.name, m.p_adjusted, m.distance) for m in result.matches[:5]]
    assert best.verdict == "related" and best.p_adjusted < 1e-6
    assert str(result.outcome) == "related"
    doc = result.to_dict()
    assert doc["candidates_tested"] == doc["multiplicity"]["m"] == result.entries_searched


@pytest.mark.slow
@pytest.mark.parametrize("query", INDEPENDENT)
def test_independent_queries_get_no_related_entry(registered: Registered, query: str) -> None:
    with Registry(registered.db, create=False) as reg:
        result = search(reg, ingest(str(_query(registered, query))).fingerprint, exclude={registered.keys[query]})
    assert result.matches, "nothing was compared"
    assert not result.related, [(m.name, m.p_adjusted) for m in result.related]
    assert str(result.outcome) in ("none_related", "inconclusive")
    assert all(m.p_adjusted >= 1e-6 for m in result.matches)


@pytest.mark.slow
def test_search_json_schema_from_the_cli(registered: Registered, capsys: pytest.CaptureFixture[str]) -> None:
    query = _query(registered, "llama-s1-rescaled")
    assert main(["registry", "search", str(query), "--db", str(registered.db), "--format", "json", "--top", "5"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == SEARCH_SCHEMA
    assert {"schema", "query", "candidates_tested", "matches"} <= set(doc)
    assert doc["candidates_tested"] == len(registered.keys)  # the query itself is registered too
    assert 1 <= len(doc["matches"]) <= 5
    for m in doc["matches"]:
        assert {"name", "source", "verdict", "p_value", "p_adjusted", "evidence"} <= set(m)
        assert m["verdict"] in ("related", "independent", "inconclusive")
        assert m["p_adjusted"] >= (m["p_value"] or 0.0)
        assert isinstance(m["evidence"], dict) and m["evidence"]
    assert doc["query"]["registered_as"] == "llama-s1-rescaled"
    first = doc["matches"][0]
    assert first["name"] == "llama-s1-rescaled" and first["verdict"] == "related"  # itself, registered
    ps = [m["p_adjusted"] for m in doc["matches"]]
    assert ps == sorted(ps, key=lambda p: 0.0 if p < 1e-50 else p)
