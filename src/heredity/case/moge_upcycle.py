"""The Pangu Pro MoE / Qwen2.5 dispute in miniature: what attn_std says, and what heredity says.

The setting of the public dispute (2025): an MoGE model (experts in groups, one group per device) was
said to be upcycled from a dense Qwen2.5 model, on the strength of the HonestAGI attention-std
fingerprint (correlation 0.927).  Here the ground truth is known because we make it:

* ``dense``       — a Qwen2.5-shaped dense decoder (q/k/v biases, GQA: 4 query heads on 2 KV heads),
  scaled down and trained from scratch;
* ``upcycled``    — ``dense`` upcycled into a Pangu-style MoGE (the forge's fine-grained ``upcycle_moge``:
  the dense MLP's neurons cut into expert segments, experts in groups) and trained further;
* ``independent`` — an MoGE of the same shape family trained from scratch on the same data.

Pair ``dense``/``upcycled`` is related, ``dense``/``independent`` is not.  For each, the attn_std
correlation is shown against its *measured* null: the correlations of every pair among extra
independently trained dense and MoGE models (other seeds), and the published 0.9 reading; beside it,
heredity's own verdict and tests.  Models are cached under the output folder, so a rerun only compares.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heredity.bench.baseline import empirical_p
from heredity.bench.detectors import ATTN_STD, ATTN_STD_PUBLISHED_THRESHOLD
from heredity.evidence.attn_std import AttnStdTest
from heredity.results import Comparison

CASE_SCHEMA = "heredity.case/1"
CORPUS = "fables"  # every model here learns from the same text: same data, same recipe
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class CasePlan:
    """How much compute the case spends (``steps``/``tune_steps``/``layers`` feed the forge's Plan)."""

    name: str
    steps: int  # pre-training steps of every model trained from scratch
    tune_steps: int  # training of the upcycled MoGE after upcycling
    layers: int  # decoder blocks (attn_std compares per-layer curves: more layers, more points)
    null_dense_seeds: tuple[int, ...]  # extra dense models for the attn_std null
    null_moge_seeds: tuple[int, ...]  # extra scratch MoGE models for the attn_std null


QUICK = CasePlan("case-quick", steps=120, tune_steps=60, layers=4, null_dense_seeds=(12,), null_moge_seeds=(17,))
FULL = CasePlan("case-full", steps=300, tune_steps=150, layers=6, null_dense_seeds=(12, 13, 14),
                null_moge_seeds=(17, 18))
DENSE_SEED, MOGE_SEED, UPCYCLE_SEED = 1, 6, 7


@dataclass(frozen=True)
class PairResult:
    """One pair of the case: the truth, the attn_std reading against its null, heredity's comparison."""

    name: str
    label: str  # ground truth: "related" | "independent"
    attn_std: float | None  # HonestAGI correlation
    attn_std_null_p: float | None  # share of null pairs (plus one) correlating at least as high
    comparison: Comparison
    report: str = ""  # path of the HTML report

    @property
    def published_call(self) -> str:
        """What the published 0.9 reading says."""
        if self.attn_std is None:
            return "n/a"
        return "related" if self.attn_std > ATTN_STD_PUBLISHED_THRESHOLD else "independent"

    def to_dict(self) -> dict[str, Any]:
        v = self.comparison.verdict
        return {"pair": self.name, "label": self.label, "a": self.comparison.a.source, "b": self.comparison.b.source,
                "attn_std": self.attn_std, "attn_std_null_p": self.attn_std_null_p,
                "attn_std_published_call": self.published_call, "verdict": v.label, "p_value": v.p_value,
                "tests": {e.test: {"applicable": e.applicable, "statistic": e.statistic, "p_value": e.p_value,
                                   "descriptive": e.descriptive} for e in self.comparison.evidence},
                "report": self.report}


@dataclass(frozen=True)
class CaseResult:
    """Both pairs and the attn_std null they are read against."""

    pairs: tuple[PairResult, ...]
    null: tuple[float, ...]  # attn_std over pairs of independently trained models
    null_pairs: tuple[str, ...] = ()
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": CASE_SCHEMA, "case": "moge-upcycle", "pairs": [p.to_dict() for p in self.pairs],
                "attn_std_null": {"values": list(self.null), "pairs": list(self.null_pairs),
                                  "published_threshold": ATTN_STD_PUBLISHED_THRESHOLD},
                "seconds": round(self.seconds, 2)}


def upcycle_and_train(arrays: dict[str, Any], config: dict[str, Any], *, steps: int, seed: int) -> Any:
    """Dense -> MoGE by fine-grained upcycling (segments, experts in groups), then further training."""
    from heredity.forge.data import load_corpus
    from heredity.forge.derive.finetune import finetune
    from heredity.forge.derive.upcycle import upcycle_moge

    moge = upcycle_moge(arrays, config, mode="segments", router_std=0.02, seed=seed)
    return finetune(*moge, text=load_corpus(CORPUS), steps=steps, seed=seed)


def build_models(root: Path, plan: CasePlan) -> dict[str, str]:
    """Train (or reuse) every model the case needs; name -> folder."""
    from heredity.forge.cache import Forge, Plan

    f = Forge(root, Plan(plan.name, plan.steps, plan.tune_steps, plan.layers, extra_families=False))
    dense = f.base(f"qwen2-dense-s{DENSE_SEED}", "qwen2", CORPUS, DENSE_SEED)
    models = {
        "dense": dense,
        "upcycled": f.derived(f"moge-upcycled-s{UPCYCLE_SEED}", dense, upcycle_and_train, steps=plan.tune_steps,
                              seed=UPCYCLE_SEED),
        "independent": f.base(f"moge-scratch-s{MOGE_SEED}", "pangu_pro_moe", CORPUS, MOGE_SEED),
    }
    for s in plan.null_dense_seeds:
        models[f"null-dense-s{s}"] = f.base(f"qwen2-dense-s{s}", "qwen2", CORPUS, s)
    for s in plan.null_moge_seeds:
        models[f"null-moge-s{s}"] = f.base(f"moge-scratch-s{s}", "pangu_pro_moe", CORPUS, s)
    return models


def null_pairs(models: dict[str, str]) -> list[tuple[str, str]]:
    """Every pair of independently trained models (the upcycled one descends from dense, so it is out)."""
    scratch = [n for n in models if n != "upcycled"]
    return [(x, y) for x, y in itertools.combinations(scratch, 2) if {x, y} != {"dense", "independent"}]


def attn_std_of(comp: Comparison) -> float | None:
    for e in comp.evidence:
        if e.test == ATTN_STD and e.applicable and e.statistic is not None:
            return float(e.statistic)
    return None


def attn_std_null(models: dict[str, str], seed: int) -> tuple[list[float], list[str]]:
    """attn_std over all independent pairs (the pair under study excluded), with the pair names."""
    from heredity.compare import compare

    values, names = [], []
    for x, y in null_pairs(models):
        r = attn_std_of(compare(models[x], models[y], tests=[AttnStdTest(seed=seed)]))
        if r is not None:
            values.append(r)
            names.append(f"{x} vs {y}")
    return values, names


def study_pair(name: str, label: str, a: str, b: str, null: Sequence[float], seed: int) -> PairResult:
    """Run every heredity test on one pair and read its attn_std against the null."""
    from heredity.compare import compare

    comp = compare(a, b, seed=seed, thorough=True)  # the case shows every test side by side
    r = attn_std_of(comp)
    return PairResult(name, label, r, None if r is None or not null else empirical_p(r, null), comp)


def write_outputs(result: CaseResult, out: Path) -> CaseResult:
    """One HTML report per pair (the report renderer) plus case.json; returns the result with paths."""
    import dataclasses

    from heredity.report import html

    pairs = []
    for p in result.pairs:
        path = out / f"report-{p.name}.html"
        path.write_text(html.render(p.comparison), encoding="utf-8")
        pairs.append(dataclasses.replace(p, report=str(path)))
    done = dataclasses.replace(result, pairs=tuple(pairs))
    (out / "case.json").write_text(json.dumps(done.to_dict(), indent=2) + "\n", encoding="utf-8")
    return done


def run_case(out: str | Path, quick: bool = False, seed: int = 0, progress: Progress | None = None) -> CaseResult:
    """Build the models under ``out``, compare both pairs, write the reports; the whole case study."""
    import time

    start = time.perf_counter()
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    step = progress or (lambda _s, _d, _t: None)
    step("training models", 0, 3)
    models = build_models(root, QUICK if quick else FULL)
    step("attn_std null", 1, 3)
    null, names = attn_std_null(models, seed)
    step("comparing pairs", 2, 3)
    pairs = (study_pair("upcycled", "related", models["dense"], models["upcycled"], null, seed),
             study_pair("independent", "independent", models["dense"], models["independent"], null, seed))
    result = CaseResult(pairs, tuple(null), tuple(names), time.perf_counter() - start)
    step("done", 3, 3)
    return write_outputs(result, root)
