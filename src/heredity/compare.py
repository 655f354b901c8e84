"""The comparison engine: two sources in, one :class:`~heredity.results.Comparison` out.

``compare(a, b)`` accepts, on either side, a path or hub id (opened with
:func:`heredity.layouts.load_model`), a :class:`~heredity.layouts.model.Model`, a loaded
:class:`~heredity.fingerprint.Fingerprint`, or a fingerprint file.  It runs a plan of configured
evidence tests (:func:`heredity.evidence.plan.default_plan` unless ``tests`` gives instances), which
read lazily, so only the tensors a test needs are read; then the verdict combines the evidence.

A model given by the caller is compared through :meth:`Model.view`: the comparison records its reads
in a recorder of its own and never swaps or mutates the caller's objects, so comparisons may run at
once in several threads.  Nothing is printed; ``progress(step, done, total)`` reports steps.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from heredity import __version__
from heredity.checkpoint.recorder import ReadEvent, hashes, nonfinite, tensors, unique_bytes
from heredity.evidence.base import EvidenceTest
from heredity.evidence.features import Features, ModelFeatures
from heredity.evidence.plan import default_plan
from heredity.layouts.model import Model, count_params
from heredity.results import Comparison, Evidence, Exclusion, ModelSummary, PlanRecord, Verdict
from heredity.stats import holm
from heredity.verdict import RELATED_P, decide

Progress = Callable[[str, int, int], None]
Source = str | os.PathLike[str] | Model | Features


def as_features(source: Source) -> Features:
    """Open whatever was given as a :class:`Features` view (models get a fresh read recorder)."""
    from heredity.fingerprint import Fingerprint, is_fingerprint_file, load

    if isinstance(source, Model):
        return ModelFeatures(source.view())
    if isinstance(source, ModelFeatures):
        return ModelFeatures(source.model.view())
    if isinstance(source, Fingerprint):
        return source
    if isinstance(source, str | os.PathLike) and is_fingerprint_file(Path(source)):
        return load(Path(source))
    if isinstance(source, str | os.PathLike):
        from heredity.layouts import load_model

        return ModelFeatures(load_model(source))
    return source


def summarise(f: Features) -> ModelSummary:
    spec = f.spec
    params = count_params(f.model) if isinstance(f, ModelFeatures) else getattr(f, "params", None)
    return ModelSummary(source=f.source, format=spec.format, family=spec.family, layers=spec.layers,
                        hidden_size=spec.hidden_size, params=params, experts=spec.experts,
                        inferred=spec.inferred, is_fingerprint=f.is_fingerprint)


def compare(a: Source, b: Source, *, tests: Sequence[EvidenceTest] | None = None, seed: int = 0,
            thorough: bool = False, progress: Progress | None = None) -> Comparison:
    """Compare two models (or fingerprints) and return the evidence plus the verdict.

    ``tests``: configured test instances (default: the default plan built with ``seed``; instances
    carry their own seed).  By default the plan is adaptive (:func:`run_adaptive`: cheapest first,
    stopping once the verdict is settled); ``thorough=True`` runs every test in the order given."""
    start = time.perf_counter()
    fa = as_features(a)
    try:
        fb = as_features(b)
    except BaseException:
        _close_opened(fa, a)
        raise
    try:
        return _compare(fa, fb, tests, seed, thorough, progress, start)
    finally:  # what this call opened from a path or hub id, it closes (files, maps, connections)
        _close_opened(fa, a)
        _close_opened(fb, b)


def _close_opened(f: Features, source: Source) -> None:
    if isinstance(source, str | os.PathLike) and isinstance(f, ModelFeatures):
        f.model.checkpoint.close()


def _compare(fa: Features, fb: Features, tests: Sequence[EvidenceTest] | None, seed: int, thorough: bool,
             progress: Progress | None, start: float) -> Comparison:
    plan = list(tests) if tests is not None else default_plan(seed)
    step = progress or (lambda name, done, total: None)
    evidence, record = (run_thorough if thorough else run_adaptive)(plan, fa, fb, step)
    step("verdict", len(plan), len(plan))
    events = {"a": _events(fa), "b": _events(fb)}
    recorded = {s: hashes(events[s]) for s, f in (("a", fa), ("b", fb)) if isinstance(f, ModelFeatures)}
    bad = {s: found for s, e in events.items() if (found := nonfinite(e))}
    return Comparison(
        a=summarise(fa), b=summarise(fb), evidence=tuple(evidence),
        verdict=_noting(decide(evidence, record.corrected_for), bad), plan=record,
        tensors_read={s: tensors(e) for s, e in events.items()},
        bytes_read={s: unique_bytes(e) for s, e in events.items()},
        nonfinite=bad,
        seconds=time.perf_counter() - start, version=__version__,
        extras={"fingerprint_excluded": _excluded(evidence, fa, fb),
                "tensor_sha256": {s: r[0] for s, r in recorded.items()},
                "tensor_rows": {s: r[1] for s, r in recorded.items()}},
    )


def run_thorough(plan: list[EvidenceTest], fa: Features, fb: Features,
                 step: Progress) -> tuple[list[Evidence], PlanRecord]:
    """Every test, in the order given."""
    evidence = []
    for i, test in enumerate(plan):
        step(test.name, i, len(plan))
        evidence.append(test.evaluate(fa, fb))
    return evidence, PlanRecord("thorough", tuple(t.name for t in plan))


def run_adaptive(plan: list[EvidenceTest], fa: Features, fb: Features,
                 step: Progress) -> tuple[list[Evidence], PlanRecord]:
    """The adaptive plan: voting tests cheapest first (by declared stored bytes); stop as soon as one
    reaches the related threshold after a Holm correction for *every* voting test of the plan (the
    verdict then cannot change, whatever the rest would say); otherwise every voting test runs, since
    any of them could still find lineage.  Descriptive tests run afterwards only when their declared
    reads fit :data:`DESCRIPTIVE_BUDGET` per side.  Evidence is returned in plan order."""
    voting = sorted((t for t in plan if not t.descriptive), key=lambda t: _cost(t, fa, fb))
    done: dict[int, Evidence] = {}
    order: list[str] = []
    settled_by: str | None = None
    for t in voting:
        if settled_by is not None:
            done[id(t)] = _skipped(t, Exclusion.SETTLED, f"not run: the verdict was already settled by {settled_by}")
            continue
        step(t.name, len(order), len(plan))
        done[id(t)] = t.evaluate(fa, fb)
        order.append(t.name)
        if _settles(list(done.values()), len(voting)):
            settled_by = t.name
    for t in (t for t in plan if t.descriptive):
        cost = max(t.declared_bytes(fa, fb).values(), default=0)
        if cost > DESCRIPTIVE_BUDGET:
            done[id(t)] = _skipped(t, Exclusion.OVER_BUDGET, f"not run: descriptive, and it would read "
                                   f"{cost / 2**20:.0f} MiB from one side (the plan allows "
                                   f"{DESCRIPTIVE_BUDGET >> 20} MiB; --thorough runs it)")
            continue
        step(t.name, len(order), len(plan))
        done[id(t)] = t.evaluate(fa, fb)
        order.append(t.name)
    skipped_voting = sum(1 for e in done.values() if e.excluded == Exclusion.SETTLED)
    ran_voting = sum(1 for e in done.values() if e.votes)
    corrected = ran_voting + skipped_voting if skipped_voting else None
    return [done[id(t)] for t in plan], PlanRecord("adaptive", tuple(order), settled_by, corrected)


DESCRIPTIVE_BUDGET = 128 << 20  # stored bytes per side a descriptive test may read in the adaptive plan


def _cost(t: EvidenceTest, fa: Features, fb: Features) -> int:
    return sum(t.declared_bytes(fa, fb).values())


def _settles(evidence: list[Evidence], m: int) -> bool:
    """Whether the evidence so far gives `related` after a Holm correction over ``m`` tests."""
    ps = [float(e.p_value) for e in evidence if e.votes]  # type: ignore[arg-type]
    return bool(ps) and min(holm(ps, m)) < RELATED_P


def _skipped(t: EvidenceTest, why: Exclusion, reason: str) -> Evidence:
    return t.not_applicable(reason, why)  # nothing read: its Reads stay empty


def _noting(v: Verdict, bad: dict[str, dict[str, int]]) -> Verdict:
    """Say in the reason when NaN/Inf values were left out (they may be why nothing could decide)."""
    if not bad:
        return v
    said = "; ".join(f"{side.upper()}: {sum(t.values()):,} NaN/Inf values in {len(t)} tensors read, set to 0"
                     for side, t in sorted(bad.items()))
    return dataclasses.replace(v, reason=f"{v.reason} ({said})")


def _events(f: Features) -> tuple[ReadEvent, ...]:
    return f.model.recorder.since() if isinstance(f, ModelFeatures) else ()


def _excluded(evidence: list[Evidence], fa: Features, fb: Features) -> list[str]:
    """Tests a fingerprint side made impossible (so reports can say what comparing weights would add)."""
    if not (fa.is_fingerprint or fb.is_fingerprint):
        return []
    return [e.test for e in evidence if e.excluded == Exclusion.FINGERPRINT]
