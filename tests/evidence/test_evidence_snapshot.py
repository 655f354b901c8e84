"""The answers heredity gives must not drift: verdicts, combined p-values and every test's statistic
and p-value on the bundled examples, the real models and the forge's quick suite, against the snapshot
taken before the typed-evidence refactor (thorough plan), and the adaptive plan's verdict on each (``scripts/verdict_snapshot.py``; the snapshot also holds the
full suite, checked by running that script with ``--suites quick,full``).

Pairs of fixed bytes (examples, real models) must match in every statistic.  The quick suite is trained
in the test session, and torch's CPU kernels differ between processors: where the build's digest is the
snapshot's, every statistic must match too; where this processor built other weights, the verdicts must
(and the adaptive plan must agree with the thorough one), and the digest is reported."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = json.loads((Path(__file__).parent / "golden" / "verdicts.json").read_text())


def _snapshot_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("verdict_snapshot", ROOT / "scripts" / "verdict_snapshot.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _same(x: object, y: object) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-300)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(_same(a, b) for a, b in zip(x, y, strict=True))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    return x == y


def _without_new_not_applicable(got: dict[str, Any], golden: dict[str, Any]) -> dict[str, Any]:
    """Leave out tests added after the snapshot that did not apply to the pair (they change nothing);
    a new test that applied, or an old one that went missing, still fails the comparison."""
    evidence = {k: v for k, v in got["evidence"].items() if k in golden["evidence"] or v[0]}
    return {**got, "evidence": evidence}


@pytest.mark.slow
def test_answers_match_the_snapshot(quick_suite_root: Path) -> None:
    pytest.importorskip("torch")
    snap = _snapshot_module()
    root = quick_suite_root.parent / "snapshot-root"
    root.mkdir(exist_ok=True)
    if not (root / "quick").exists():
        (root / "quick").symlink_to(quick_suite_root, target_is_directory=True)
    same_build = snap.build_digest(root, "quick") == GOLDEN["_builds"]["quick"]
    checked = 0
    for pid, a, b in snap.pairs(root, ("quick",)):
        got = snap.answer(a, b)
        assert pid in GOLDEN, f"{pid} is not in the snapshot"
        got = _without_new_not_applicable(got, GOLDEN[pid])
        if same_build or not pid.startswith("quick/"):
            assert _same(got, GOLDEN[pid]), (pid, got, GOLDEN[pid])
        else:  # other suite weights: the verdict and which tests applied must still be the snapshot's
            assert got["verdict"] == GOLDEN[pid]["verdict"], (pid, got, GOLDEN[pid])
            applied = {t: v[0] for t, v in got["evidence"].items()}
            assert applied == {t: v[0] for t, v in GOLDEN[pid]["evidence"].items()}, (pid, got)
        fast = snap.adaptive(a, b)  # the default plan never changes a verdict relative to --thorough
        assert fast["verdict"] == fast["thorough_verdict"] == GOLDEN[pid]["verdict"], (pid, fast)
        checked += 1
    assert checked >= 26
