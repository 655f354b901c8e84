"""The runner and detectors on fake pairs: outcomes read from comparisons, calibration, JSON schema."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import pytest

from heredity.bench import render
from heredity.bench.baseline import CALIBRATED, calibrate_attn_std, empirical_p
from heredity.bench.detectors import attn_std_outcome, comparison_outcomes, evidence_outcome
from heredity.bench.results import BENCH_SCHEMA, CaseResult, Outcome
from heredity.bench.runner import run_bench
from heredity.errors import CorruptCheckpointError
from heredity.results import Comparison, Evidence, Exclusion, ModelSummary, Verdict


@dataclass(frozen=True)
class Pair:
    id: str
    category: str
    label: str
    a_path: str
    b_path: str


PAIRS = [Pair("r1", "finetune", "related", "a", "r1"), Pair("r2", "prune", "related", "a", "r2"),
         Pair("i1", "seed", "independent", "a", "i1"), Pair("i2", "seed", "independent", "a", "i2")]
P = {"r1": 1e-20, "r2": 1e-3, "i1": 0.4, "i2": 0.9}
CORR = {"r1": 0.99, "r2": 0.95, "i1": 0.97, "i2": 0.5}


class Fake:
    """A detector whose answers are a table: related below 1e-6, attn_std correlations given."""

    name = "heredity"

    def run(self, a: str, b: str) -> Mapping[str, Outcome]:
        if b == "bad":
            raise CorruptCheckpointError("truncated", path=b)
        p = P[b]
        verdict = "related" if p < 1e-6 else "independent"
        return {"heredity": Outcome(verdict, p, -math.log10(p), 0.5),
                "attn_std": attn_std_outcome(Evidence("attn_std", True, statistic=CORR[b], descriptive=True))}


def test_run_bench_scores_every_detector_and_matches_the_schema() -> None:
    result = run_bench(PAIRS, [Fake()])
    doc = json.loads(render.render_json(result))
    assert set(doc) == {"schema", "detectors", "cases"} and doc["schema"] == BENCH_SCHEMA
    assert set(doc["detectors"]) == {"heredity", "attn_std", CALIBRATED}
    h = doc["detectors"]["heredity"]
    assert set(h) == {"accuracy", "false_positive_rate", "auc", "tpr_at_fpr_1pct", "seconds"}
    assert (h["accuracy"], h["false_positive_rate"], h["auc"], h["tpr_at_fpr_1pct"]) == (0.75, 0.0, 1.0, 1.0)
    assert h["seconds"] == pytest.approx(2.0)
    # published 0.9: i1 (0.97) is a false positive; ranking 0.99, 0.95 vs 0.97, 0.5 -> AUC 3/4
    a = doc["detectors"]["attn_std"]
    assert (a["accuracy"], a["false_positive_rate"], a["auc"], a["tpr_at_fpr_1pct"]) == (0.75, 0.5, 0.75, 0.5)
    case = doc["cases"][0]
    assert set(case) == {"id", "category", "label", "results"}
    assert case["results"]["heredity"] == {"verdict": "related", "p_value": 1e-20}
    assert set(result.categories) == {"finetune", "prune", "seed"}
    assert result.categories["seed"]["heredity"].accuracy == 1.0


def test_calibration_is_leave_one_out_on_independent_pairs() -> None:
    cases = [CaseResult(p.id, p.category, p.label, p.a_path, p.b_path,
                        {"attn_std": attn_std_outcome(Evidence("attn_std", True, statistic=CORR[p.id]))})
             for p in PAIRS]
    out, note = calibrate_attn_std(cases)
    cal = {c.id: c.outcomes[CALIBRATED] for c in out}
    # related pairs are judged against max(0.97, 0.5) = 0.97; i1 against 0.5 alone, i2 against 0.97
    assert [cal[i].verdict for i in ("r1", "r2", "i1", "i2")] == ["related", "independent", "related", "independent"]
    assert cal["r1"].p_value == pytest.approx(1 / 3) and cal["i2"].p_value == pytest.approx(1.0)
    assert "0.9700" in note


def test_empirical_p() -> None:
    assert empirical_p(0.9, [0.1, 0.95, 0.3]) == pytest.approx(2 / 4)
    assert empirical_p(float("nan"), [0.1]) == 1.0


def test_a_failing_pair_is_inconclusive_not_independent() -> None:
    result = run_bench([Pair("x", "seed", "independent", "a", "bad")], [Fake()])
    o = result.cases[0].outcomes["heredity"]
    assert o.verdict == "inconclusive" and "truncated" in o.note
    assert result.detectors["heredity"].accuracy == 0.0 and result.detectors["heredity"].false_positive_rate == 0.0


def _ev(test: str, p: float | None, applicable: bool = True, descriptive: bool = False) -> Evidence:
    return Evidence(test, applicable, statistic=0.5 if applicable else None, p_value=p, descriptive=descriptive,
                    reason=None if applicable else "no MLP", seconds=0.25,
                    excluded=None if applicable else Exclusion.STRUCTURE)


def test_each_test_alone_uses_the_verdicts_thresholds() -> None:
    assert evidence_outcome(_ev("matching", 1e-9), 1e-6).verdict == "related"
    assert evidence_outcome(_ev("matching", 1e-3), 1e-6).verdict == "inconclusive"
    assert evidence_outcome(_ev("matching", 0.3), 1e-6).verdict == "independent"
    na = evidence_outcome(_ev("experts", None, applicable=False), 1e-6)
    assert (na.verdict, na.score, na.note) == ("inconclusive", 0.0, "no MLP")


def test_comparison_outcomes_split_combined_tests_and_baseline() -> None:
    m = ModelSummary("x", "safetensors", "llama")
    evidence = (_ev("vectors", 1e-12), _ev("matching", 0.5), _ev("spectra", 0.01, descriptive=True),
                Evidence("attn_std", True, statistic=0.93, p_value=0.2, descriptive=True))
    comp = Comparison(m, m, evidence, Verdict("related", 2e-12, "s", "r"), seconds=3.0)
    out = comparison_outcomes(comp)
    assert set(out) == {"heredity", "vectors", "matching", "spectra", "attn_std"}
    assert out["heredity"].verdict == "related" and out["heredity"].seconds == 3.0
    assert out["vectors"].verdict == "related" and out["matching"].verdict == "independent"
    assert (out["attn_std"].verdict, out["attn_std"].score, out["attn_std"].p_value) == ("related", 0.93, 0.2)


def test_terminal_tables_name_detectors_and_categories() -> None:
    text = render.render_text(run_bench(PAIRS, [Fake()]), width=160)
    assert "Detectors over all pairs" in text and "Accuracy per category" in text
    for word in ("heredity", "attn_std", "finetune", "seed", "0.750"):
        assert word in text
