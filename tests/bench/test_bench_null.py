"""The null panel (`heredity bench --null`): its design and scoring on fake outcomes (fast), and the quick
slice end to end on the quick forge suite and the real pair (slow, CI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from heredity.bench import null, null_render
from heredity.bench.null import Member, can_pair, forge_members, pairs, real_members, tags
from heredity.bench.null_results import NULL_SCHEMA, NullCase, previous_rule, rates, score, uniformity
from heredity.cli.main import main
from heredity.results import Evidence, Power
from heredity.verdict import decide

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "realmodels"


def member(name: str, lineage: str, family: str = "llama", group: str = "forge", *, size: str = "h64-3L",
           data: str = "fables", side: str = "trained") -> Member:
    return Member(name, f"/x/{name}", lineage, family, size, data, side, group)


def case(i: int, verdict: str, previous: str | None = None, powerful: bool = True,
         p_values: dict[str, float] | None = None, family_tag: str = "same-family") -> NullCase:
    return NullCase(f"p{i}", "a", "b", {"families": family_tag}, verdict, 0.5, previous or verdict, powerful,
                    p_values if p_values is not None else {"vectors": 0.5})


def ev(test: str, p: float, powerful: bool = True) -> Evidence:
    return Evidence(test=test, applicable=True, statistic=0.0, p_value=p, power=Power(powerful, "x"))


# ---- pairing: never a model with its own lineage ----

def test_pairs_skip_one_lineage_and_keep_packaged_models_among_real_ones() -> None:
    ms = [member("s1", "seed1"), member("s1-q8", "seed1", side="gguf"), member("s2", "seed2"),
          member("stories", "real:stories", group="real"), member("smol", "real:smol", group="packaged")]
    got = {(a.name, b.name) for a, b in pairs(ms)}
    assert ("s1", "s1-q8") not in got  # a model and its GGUF export
    assert {("s1", "s2"), ("s1-q8", "s2"), ("s1", "stories"), ("stories", "smol")} <= got
    assert not any("smol" in p and ("s1" in p or "s2" in p) for p in got)  # packaged never meets forge
    no_cross = {(a.name, b.name) for a, b in pairs(ms, cross=False)}
    assert ("s1", "stories") not in no_cross and ("stories", "smol") in no_cross
    assert not can_pair(ms[0], ms[0])


def test_tags_place_a_pair_in_each_dimension() -> None:
    dense, moe = member("a", "seed1"), member("b", "seed2", "pangu_moge", data="almanac", size="h96-3L")
    t = tags(dense, moe)
    assert t == {"kind": "forge", "families": "moe-vs-dense", "data": "other-data", "size": "other-size",
                 "side": "trained", "tokenizer": "shared"}
    q = tags(member("q", "seed3", side="gguf"), member("m", "seed4", "mixtral"))
    assert q["side"] == "gguf" and q["families"] == "moe-vs-dense" and q["data"] == "same-data"
    assert tags(member("x", "seed5", "mixtral"), member("y", "seed6", "qwen2_moe"))["families"] == "moe-vs-moe"
    real = tags(member("r", "real:r", group="real", data=""), dense)
    assert real["kind"] == "real-vs-forge" and real["data"] == "unknown" and real["tokenizer"] == "different"


def test_full_panel_design_spans_what_the_issue_asks(tmp_path: Path) -> None:
    ms = forge_members(tmp_path, quick=False)
    ps = pairs(ms)
    assert len(ps) >= 200
    assert len({m.lineage for m in ms}) >= 22  # independently trained models
    assert len({m.family for m in ms}) >= 4 and len({m.size for m in ms}) >= 3
    assert {"gguf", "permuted", "upcycled"} <= {m.side for m in ms}
    kinds = {k: {tags(a, b)[k] for a, b in ps} for k in ("families", "data", "size")}
    assert kinds["families"] == {"same-family", "diff-family", "moe-vs-dense", "moe-vs-moe"}
    assert kinds["data"] == {"same-data", "other-data"} and kinds["size"] == {"same-size", "other-size"}
    assert all(a.lineage != b.lineage for a, b in ps)
    assert len({m.name for m in ms}) == len(ms)
    quick = pairs(forge_members(tmp_path, quick=True))
    assert 40 <= len(quick) < 60


def test_real_members_from_a_folder_and_notes_on_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "stories260K.bin").write_bytes(b"x")
    found, notes = real_members(tmp_path, packaged=False)
    assert [m.name for m in found] == ["real/stories260K"] and found[0].group == "real"
    assert len(notes) == 1 and "llama2xs" in notes[0]


# ---- scoring on fake outcomes ----

def test_uniformity_flags_an_excess_of_small_p_values() -> None:
    flat = [(i + 0.5) / 200 for i in range(200)]
    u = uniformity(flat)
    assert u.n == 200 and u.ks_p is not None and u.ks_p > 0.5
    assert u.histogram == (20,) * 10 and u.below_0_05 == pytest.approx(0.05) and u.min_p == pytest.approx(0.0025)
    skewed = uniformity([p**3 for p in flat])  # piles up near 0
    assert skewed.ks_p is not None and skewed.ks_p < 1e-6 and skewed.histogram[0] > 80
    conservative = uniformity([0.5 + p / 2 for p in flat])  # piles up near 1: one-sided KS does not object
    assert conservative.ks_p is not None and conservative.ks_p > 0.5 and conservative.histogram[:5] == (0,) * 5
    assert uniformity([]).n == 0 and uniformity([]).ks_p is None


def test_rates_split_inconclusive_by_cause_and_measure_the_previous_rule() -> None:
    cases = [case(0, "independent", "inconclusive"), case(1, "independent"), case(2, "inconclusive", powerful=True),
             case(3, "inconclusive", powerful=False), case(4, "related")]
    r, prev = rates(cases), rates(cases, previous=True)
    assert (r.related, r.inconclusive, r.independent) == (0.2, 0.4, 0.4)
    assert (r.inconclusive_flagged, r.inconclusive_no_power) == (0.2, 0.2)
    assert (prev.inconclusive, prev.independent, prev.inconclusive_flagged) == (0.6, 0.2, 0.4)
    assert rates([]).related is None


def test_score_document_per_test_and_per_tag() -> None:
    cases = [case(i, "independent", p_values={"vectors": (i + 0.5) / 10, **({"matching": 0.3} if i % 2 else {})},
                  family_tag="moe-vs-dense" if i < 3 else "same-family") for i in range(10)]
    cases.append(case(10, "inconclusive", powerful=False, p_values={}, family_tag="moe-vs-dense"))
    res = score(cases, models=6, notes=["n1"])
    assert res.tests["vectors"].n == 10 and res.tests["matching"].n == 5
    assert res.tags["families"]["moe-vs-dense"] == {"pairs": 4, "related": 0, "inconclusive": 1, "independent": 3}
    doc = json.loads(null_render.render_json(res))
    assert doc["schema"] == NULL_SCHEMA == "heredity.bench.null/1"
    assert (doc["models"], doc["pairs"], doc["notes"]) == (6, 11, ["n1"])
    assert doc["rates"]["inconclusive"] == pytest.approx(1 / 11) and doc["rates"]["related"] == 0.0
    assert set(doc["tests"]["vectors"]) == {"n", "ks_d", "ks_p", "min_p", "median_p", "below_0_05", "below_0_01",
                                            "histogram"}
    assert doc["cases"][10]["p_values"] == {} and doc["cases"][0]["tags"] == {"families": "moe-vs-dense"}
    text = null_render.render_text(res)
    assert "11 independent pairs of 6 models" in text and "Holm" in text and "p10" in text


def test_previous_rule_is_the_unadjusted_one_the_verdict_replaced() -> None:
    evidence = [ev("matching", 0.03), ev("vectors", 0.6), ev("identical", 1.0, powerful=False)]
    assert previous_rule(evidence) == "inconclusive"
    assert decide(evidence).label == "independent"  # Holm: 3 * 0.03 = 0.09 >= 0.05
    assert previous_rule([ev("matching", 1e-9), ev("vectors", 0.5)]) == "related"
    assert previous_rule([ev("vectors", 0.5, powerful=False)]) == "inconclusive"
    assert previous_rule([ev("vectors", 0.5)]) == "independent" and previous_rule([]) == "inconclusive"


# ---- the command ----

def test_cli_null_wiring(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seen: dict[str, object] = {}

    def fake_run(root: Path, quick: bool, tests: object, seed: int, progress: object = None) -> object:
        seen.update(root=root, quick=quick)
        return score([case(0, "independent")], models=2)

    monkeypatch.setattr(null, "run_null", fake_run)
    assert main(["bench", "--null", "--quick", "--root", str(tmp_path), "--format", "json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["schema"] == NULL_SCHEMA
    assert seen == {"root": tmp_path, "quick": True}
    assert main(["bench", "--null", "--root", str(tmp_path)]) == 0
    assert "Null panel" in capsys.readouterr().out
    assert main(["bench", "--null", "--cmd", "tool {a} {b}"]) == 2
    assert "--null" in capsys.readouterr().err


# ---- end to end ----

@pytest.mark.slow
def test_quick_slice_end_to_end(quick_suite_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    root = quick_suite_root.parent / "null-root"
    root.mkdir(exist_ok=True)
    if not (root / "quick").exists():
        (root / "quick").symlink_to(quick_suite_root, target_is_directory=True)
    assert main(["bench", "--null", "--quick", "--root", str(root), "--format", "json", "-q"]) == 0
    doc = json.loads(capsys.readouterr().out)
    real = 1 if (SHARED / "stories260K.bin").is_file() and (SHARED / "llama2xs" / "ckpt.pt").is_file() else 0
    assert doc["pairs"] == 42 + real
    assert all(c["note"] == "" for c in doc["cases"]), [c["note"] for c in doc["cases"] if c["note"]]
    assert doc["rates"]["related"] == 0.0, [c["id"] for c in doc["cases"] if c["verdict"] == "related"]
    assert doc["rates"]["inconclusive"] <= 0.05, [(c["id"], c["p_values"]) for c in doc["cases"]
                                                  if c["verdict"] == "inconclusive"]
    for test in ("vectors", "matching"):
        u = doc["tests"][test]
        assert u["n"] >= 20 and u["ks_p"] > 1e-3 and u["min_p"] > 1e-4, (test, u)
    if real:
        ids = {c["id"] for c in doc["cases"] if c["tags"]["kind"] == "real"}
        assert ids == {"real/stories260K~real/llama2xs"}
