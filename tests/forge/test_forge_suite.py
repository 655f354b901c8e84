"""The ground-truth suite: labelled, covering every derivation kind, cached and deterministic."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")

from heredity.forge.derive import KINDS  # noqa: E402
from heredity.forge.io import load_folder  # noqa: E402
from heredity.forge.suite import build_suite  # noqa: E402

RELATED_KINDS = {"finetune", "continue", "lora", "upcycle-moe", "upcycle-moge-copies", "upcycle-moge-segments",
                 "prune-depth", "prune-width", "merge", "ties", "quantize", "rename", "permute", "rescale",
                 "permute-finetune"}
INDEPENDENT_KINDS = {"same-arch-seed", "diff-data", "diff-family", "moe-vs-dense", "permuted-independent",
                     "upcycled-independent"}


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix in (".safetensors", ".gguf"):
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def suite(quick_suite_root: Path) -> tuple[Path, list]:  # type: ignore[type-arg]
    return quick_suite_root, build_suite(quick_suite_root, quick=True)


@pytest.mark.slow
def test_quick_suite_is_labelled_and_covers_every_kind(suite: tuple[Path, list]) -> None:  # type: ignore[type-arg]
    root, cases = suite
    related = {c.category for c in cases if c.label == "related"}
    independent = {c.category for c in cases if c.label == "independent"}
    assert related == RELATED_KINDS and independent == INDEPENDENT_KINDS
    assert {k.split("-")[0] for k in KINDS} <= {k.split("-")[0] for k in related} | {"permute"}
    assert len({c.id for c in cases}) == len(cases)
    for c in cases:
        assert Path(c.a_path).exists() and Path(c.b_path).exists(), c.id
    manifest = json.loads((root / "suite.json").read_text())
    assert [m["id"] for m in manifest["cases"]] == [c.id for c in cases]


@pytest.mark.slow
def test_suite_models_have_the_families_their_cases_claim(suite: tuple[Path, list]) -> None:  # type: ignore[type-arg]
    _, cases = suite
    by_id = {c.id: c for c in cases}
    assert load_folder(by_id["rel-upcycle-moge-segments"].b_path)[1]["architectures"] == ["PanguProMoEForCausalLM"]
    assert load_folder(by_id["rel-upcycle-moe"].b_path)[1]["model_type"] == "mixtral"
    assert load_folder(by_id["rel-rename"].b_path)[1]["model_type"] == "llama"
    assert load_folder(by_id["rel-prune-depth"].b_path)[1]["num_hidden_layers"] == 2
    assert by_id["rel-quantize"].b_path.endswith("q8_0.gguf") and by_id["rel-quantize-2"].b_path.endswith("q4_0.gguf")
    assert (Path(by_id["rel-continue"].b_path) / "model.safetensors.index.json").is_file()


@pytest.mark.slow
def test_suite_is_cached_and_deterministic(suite: tuple[Path, list], tmp_path: Path) -> None:  # type: ignore[type-arg]
    root, cases = suite
    before = _digest(root)
    t0 = time.perf_counter()
    again = build_suite(root, quick=True)
    assert time.perf_counter() - t0 < 10 and again == cases  # nothing retrained
    assert _digest(root) == before
    # a fresh root rebuilds one model to the same bytes
    from heredity.forge.cache import QUICK, Forge

    fresh = Forge(tmp_path, QUICK).base("llama-fables-s1", "llama", "fables", 1)
    a = next(c.a_path for c in cases if c.id == "rel-finetune")
    assert (Path(fresh) / "model.safetensors").read_bytes() == (Path(a) / "model.safetensors").read_bytes()
