"""The labelled ground-truth suite: pairs of forged models that are related or independent.

``build_suite(root, quick=True)`` trains and derives everything it needs (cached under ``root``,
so a second call only reads) and returns :class:`Case` rows for the benchmark.  Every step is
seeded; the same call gives the same files.

Related categories: finetune, continue, lora, upcycle-moe, upcycle-moge-copies,
upcycle-moge-segments, prune-depth, prune-width, merge, ties, quantize, rename, permute, rescale,
permute-finetune (full mode adds fine-tunes of qwen3, glm4 and mistral).
Independent categories: same-arch-seed (same config and data, other seed), diff-data,
diff-family, moe-vs-dense (a scratch MoE/MoGE against a dense model), permuted-independent (an
unrelated model after the same obfuscation the related cases use), upcycled-independent (an MoE /
MoGE upcycled from a *different* dense model: the negative control for expert tests).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from heredity.forge.cache import FULL, QUICK, Forge
from heredity.forge.data import load_corpus
from heredity.forge.derive.obfuscate import permute_all


@dataclass(frozen=True)
class Case:
    """One labelled pair: is ``b`` derived from ``a`` (or do both descend from one ancestor)?"""

    id: str
    category: str
    label: str  # "related" | "independent"
    a_path: str
    b_path: str


def _tuned_pair(f: Forge) -> tuple[str, str, str]:
    """The llama parent and two fine-tunes of it (on other data, and on the same data)."""
    from heredity.forge.derive.finetune import finetune

    a = f.base("llama-fables-s1", "llama", "fables", 1)
    n = f.plan.tune_steps
    ft = f.derived("llama-s1-ft-almanac", a, finetune, text=load_corpus("almanac"), steps=n, seed=2)
    # saved in shards, so the benchmark also exercises sharded folders
    cont = f.derived("llama-s1-continue", a, finetune, shard_bytes=100_000, text=load_corpus("fables"), steps=n, seed=3)
    return a, ft, cont


def _related(f: Forge) -> list[Case]:
    from heredity.forge.derive import lora, merge, prune, rename, rescale, upcycle

    a, ft, cont = _tuned_pair(f)
    q = f.base("qwen2-fables-s1", "qwen2", "fables", 1)
    n, alm = f.plan.tune_steps, load_corpus("almanac")
    rows = [
        ("finetune", a, ft),
        ("continue", a, cont),
        ("lora", a, f.derived("llama-s1-lora", a, lora.lora, text=alm, steps=n, seed=4)),
        ("upcycle-moe", a, f.healed("llama-s1-upcycle-mixtral", a, upcycle.upcycle_moe, noise=0.01, seed=5)),
        ("upcycle-moge-copies", q, f.healed("qwen2-s1-moge-copies", q, upcycle.upcycle_moge, mode="copies",
                                            noise=0.01, router_std=0.02, seed=6)),
        ("upcycle-moge-segments", q, f.healed("qwen2-s1-moge-segments", q, upcycle.upcycle_moge,
                                              mode="segments", router_std=0.02, seed=7)),
        ("prune-depth", a, f.healed("llama-s1-prune-depth", a, prune.prune_depth)),
        ("prune-width", a, f.healed("llama-s1-prune-width", a, prune.prune_width)),
        ("merge", a, f.folder("llama-s1-merge-ft", lambda: merge.linear_merge(
            [f.arrays(a)[0], f.arrays(ft)[0]], f.arrays(a)[1]))),
        ("ties", a, f.folder("llama-s1-ties", lambda: merge.ties_merge(
            f.arrays(a)[0], [f.arrays(ft)[0], f.arrays(cont)[0]], f.arrays(a)[1]))),
        ("rename", q, f.derived("qwen2-s1-as-llama", q, rename.rename, target="llama")),
        ("permute", a, f.derived("llama-s1-permuted", a, permute_all, seed=8)),
        ("rescale", a, f.derived("llama-s1-rescaled", a, rescale.rescale, seed=9)),
        ("upcycle-moe", q, f.healed("qwen2-s1-upcycle-qwen2moe", q, upcycle.upcycle_moe, noise=0.01, seed=10)),
        ("permute-finetune", a, _permuted_tuned(f, a)),
    ]
    return _cases("rel", "related", rows) + _quantized(f, a)


def _cases(prefix: str, label: str, rows: list[tuple[str, str, str]]) -> list[Case]:
    """Cases with ids PREFIX-CATEGORY, numbered from -2 when a category repeats."""
    seen: dict[str, int] = {}
    out = []
    for cat, a, b in rows:
        seen[cat] = seen.get(cat, 0) + 1
        suffix = "" if seen[cat] == 1 else f"-{seen[cat]}"
        out.append(Case(f"{prefix}-{cat}{suffix}", cat, label, a, b))
    return out


def _permuted_tuned(f: Forge, parent: str) -> str:
    """Obfuscated by all three permutations, then fine-tuned: the hardest related case here."""
    from heredity.forge.derive.finetune import finetune

    perm = f.derived("llama-s1-permuted", parent, permute_all, seed=8)
    return f.derived("llama-s1-permuted-ft", perm, finetune, text=load_corpus("almanac"), steps=f.plan.tune_steps,
                     seed=12)


def _quantized(f: Forge, parent: str) -> list[Case]:
    """The parent written as GGUF files (files, not folders): Q8_0 and Q4_0."""
    from heredity.forge.derive.quantize import quantize

    rows = []
    for qtype in ("Q8_0", "Q4_0"):
        path = f.path(f"llama-s1-{qtype.lower()}.gguf")
        if not path.is_file():
            tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
            quantize(*f.arrays(parent), tmp, qtype)
            tmp.replace(path)
        rows.append(("quantize", parent, str(path)))
    return _cases("rel", "related", rows)


def _independent(f: Forge) -> list[Case]:
    from heredity.forge.derive import upcycle

    a = f.base("llama-fables-s1", "llama", "fables", 1)
    q = f.base("qwen2-fables-s1", "qwen2", "fables", 1)
    other = f.base("llama-fables-s2", "llama", "fables", 2)
    q4 = f.base("qwen2-fables-s4", "qwen2", "fables", 4)
    rows = [
        ("same-arch-seed", a, other),
        ("same-arch-seed", q, q4),
        ("diff-data", a, f.base("llama-almanac-s3", "llama", "almanac", 3)),
        ("diff-family", a, f.base("gemma3-fables-s5", "gemma3", "fables", 5)),
        ("moe-vs-dense", a, f.base("mixtral-fables-s7", "mixtral", "fables", 7)),
        ("moe-vs-dense", q, f.base("moge-fables-s6", "pangu_pro_moe", "fables", 6)),
        ("permuted-independent", a, f.derived("llama-s2-permuted", other, permute_all, seed=8)),
        ("upcycled-independent", a, f.healed("llama-s2-upcycle-mixtral", other, upcycle.upcycle_moe, noise=0.01,
                                             seed=5)),
        ("upcycled-independent", q, f.healed("qwen2-s4-moge-segments", q4, upcycle.upcycle_moge, mode="segments",
                                             router_std=0.02, seed=7)),
    ]
    return _cases("ind", "independent", rows)


def _extra(f: Forge) -> list[Case]:
    """Full mode: fine-tuned and independent pairs of three more families."""
    from heredity.forge.derive.finetune import finetune

    rows: list[tuple[str, str, str, str]] = []
    for fam, s1, s2 in (("qwen3", 21, 22), ("glm4", 23, 24), ("mistral", 25, 26)):
        x = f.base(f"{fam}-fables-s{s1}", fam, "fables", s1)
        y = f.base(f"{fam}-fables-s{s2}", fam, "fables", s2)
        tuned = f.derived(f"{fam}-s{s1}-ft-almanac", x, finetune, text=load_corpus("almanac"),
                          steps=f.plan.tune_steps, seed=2)
        rows += [(f"rel-finetune-{fam}", "finetune", x, tuned), (f"ind-same-arch-seed-{fam}", "same-arch-seed", x, y)]
    return [Case(i, cat, "related" if i.startswith("rel") else "independent", x, y) for i, cat, x, y in rows]


def build_suite(root: str | Path, quick: bool = True) -> list[Case]:
    """Build (or reuse) every model under ``root`` and return the labelled cases; writes root/suite.json."""
    root = Path(root)
    f = Forge(root, QUICK if quick else FULL)
    cases = _related(f) + _independent(f) + (_extra(f) if f.plan.extra_families else [])
    manifest = {"schema": "heredity.forge.suite/1", "quick": quick, "cases": [asdict(c) for c in cases]}
    (root / "suite.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return cases
