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
from heredity.layouts.model import Model
from heredity.results import Comparison, Evidence, Exclusion, ModelSummary, Verdict
from heredity.verdict import decide

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
    from heredity.inspect import count_params

    spec = f.spec
    params = count_params(f.model) if isinstance(f, ModelFeatures) else getattr(f, "params", None)
    return ModelSummary(source=f.source, format=spec.format, family=spec.family, layers=spec.layers,
                        hidden_size=spec.hidden_size, params=params, experts=spec.experts,
                        inferred=spec.inferred, is_fingerprint=f.is_fingerprint)


def compare(a: Source, b: Source, *, tests: Sequence[EvidenceTest] | None = None, seed: int = 0,
            progress: Progress | None = None) -> Comparison:
    """Compare two models (or fingerprints) and return every piece of evidence plus the verdict.

    ``tests``: configured test instances, run in the order given (default: the default plan built
    with ``seed``; instances carry their own seed)."""
    start = time.perf_counter()
    fa, fb = as_features(a), as_features(b)
    plan = list(tests) if tests is not None else default_plan(seed)
    evidence: list[Evidence] = []
    for i, test in enumerate(plan):
        if progress:
            progress(test.name, i, len(plan))
        evidence.append(test.evaluate(fa, fb))
    if progress:
        progress("verdict", len(plan), len(plan))
    events = {"a": _events(fa), "b": _events(fb)}
    recorded = {s: hashes(events[s]) for s, f in (("a", fa), ("b", fb)) if isinstance(f, ModelFeatures)}
    bad = {s: found for s, e in events.items() if (found := nonfinite(e))}
    return Comparison(
        a=summarise(fa), b=summarise(fb), evidence=tuple(evidence), verdict=_noting(decide(evidence), bad),
        tensors_read={s: tensors(e) for s, e in events.items()},
        bytes_read={s: unique_bytes(e) for s, e in events.items()},
        nonfinite=bad,
        seconds=time.perf_counter() - start, version=__version__,
        extras={"fingerprint_excluded": _excluded(evidence, fa, fb),
                "tensor_sha256": {s: r[0] for s, r in recorded.items()},
                "tensor_rows": {s: r[1] for s, r in recorded.items()}},
    )


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
