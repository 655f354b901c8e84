"""Print (or check) the verdicts and p-values of `compare` on every pair heredity is judged on.

The pairs: the bundled examples, the real models in ``../shared/realmodels`` and both forge suites
(quick and full, built under ``--root``).  Timings, byte counts and tensor lists are left out: what
the snapshot pins is the *answer* (verdict, combined p-value, each test's applicability, statistic and
p-value), so a refactor that must not change behaviour can be checked against it.

The forge suites are trained here with torch, whose CPU kernels differ between processors, so the same
code can build slightly different suite weights on another machine (and then every statistic moves a
little while no verdict does).  ``_builds`` records a digest of each suite's files as built for the
snapshot; the test compares statistics only where its build has that digest, verdicts everywhere.

    python scripts/verdict_snapshot.py --root /tmp/suites > snapshot.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "models"
REAL = ROOT.parent / "shared" / "realmodels"


def pairs(root: Path, suites: tuple[str, ...]) -> Iterator[tuple[str, str, str]]:
    """(id, a, b) for every pair of the snapshot."""
    names = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())
    for i, x in enumerate(names):
        for y in names[i + 1:]:
            yield f"examples/{x}~{y}", str(EXAMPLES / x), str(EXAMPLES / y)
    if REAL.is_dir():
        s, ck, mb = REAL / "stories260K.bin", REAL / "llama2xs" / "ckpt.pt", REAL / "llama2xs" / "model.bin"
        yield "real/stories260K~llama2xs-ckpt", str(s), str(ck)
        yield "real/stories260K~llama2xs-bin", str(s), str(mb)
        yield "real/llama2xs-ckpt~bin", str(ck), str(mb)
    from heredity.forge.suite import build_suite

    for suite in suites:
        for c in build_suite(root / suite, quick=suite == "quick"):
            yield f"{suite}/{c.id}", c.a_path, c.b_path


def build_digest(root: Path, suite: str) -> str:
    """sha256 over every file of every model of a built suite (relative names and bytes), in name order."""
    from heredity.forge.suite import build_suite

    models = {Path(p) for c in build_suite(root / suite, quick=suite == "quick") for p in (c.a_path, c.b_path)}
    h = hashlib.sha256()
    for model in sorted(models):
        files = sorted(model.rglob("*")) if model.is_dir() else [model]
        for f in (f for f in files if f.is_file()):
            h.update(f"{f.relative_to(root / suite)}\0{f.stat().st_size}\0".encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def answer(a: str, b: str) -> dict[str, object]:
    """Every test's answer (the thorough plan: the snapshot pins each test, so none may be skipped)."""
    from heredity.compare import compare

    c = compare(a, b, thorough=True)
    return {
        "verdict": c.verdict.label,
        "p_value": c.verdict.p_value,
        "evidence": {e.test: [e.applicable, e.statistic, e.p_value] for e in c.evidence},
    }


def adaptive(a: str, b: str) -> dict[str, object]:
    """The default (adaptive) plan's verdict, what it ran and what it read, beside the thorough plan's."""
    from heredity.compare import compare

    fast, full = compare(a, b), compare(a, b, thorough=True)
    return {"verdict": fast.verdict.label, "thorough_verdict": full.verdict.label, "ran": list(fast.plan.order),
            "bytes": sum(fast.bytes_read.values()), "thorough_bytes": sum(full.bytes_read.values()),
            "seconds": round(fast.seconds, 3), "thorough_seconds": round(full.seconds, 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True, help="folder the forge suites are built in (cached)")
    ap.add_argument("--suites", default="quick,full", help="comma-separated: quick, full (default both)")
    ap.add_argument("--adaptive", action="store_true", help="print the adaptive plan beside the thorough one instead")
    args = ap.parse_args()
    run = adaptive if args.adaptive else answer
    suites = tuple(s for s in args.suites.split(",") if s)
    out: dict[str, object] = {pid: run(a, b) for pid, a, b in pairs(args.root, suites)}
    out["_builds"] = {s: build_digest(args.root, s) for s in suites}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
