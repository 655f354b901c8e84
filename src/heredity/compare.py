"""The comparison engine: two sources in, one :class:`~heredity.results.Comparison` out.

``compare(a, b)`` accepts, on either side, a path or hub id (opened with
:func:`heredity.layouts.load_model`), a :class:`~heredity.layouts.model.Model`, a loaded
:class:`~heredity.fingerprint.Fingerprint`, or a fingerprint file.  It runs the selected evidence tests
(all registered ones by default), which read lazily, so only the tensors a test needs are read; then
the verdict combines the evidence.  Nothing is printed; ``progress(step, done, total)`` reports steps.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from heredity import __version__
from heredity.evidence import registry
from heredity.evidence.features import Features, ModelFeatures
from heredity.layouts.model import Model
from heredity.provenance import hashing
from heredity.results import Comparison, Evidence, ModelSummary
from heredity.verdict import decide

Progress = Callable[[str, int, int], None]
Source = str | os.PathLike[str] | Model | Features


def as_features(source: Source) -> Features:
    """Open whatever was given as a :class:`Features` view."""
    from heredity.fingerprint import Fingerprint, is_fingerprint_file, load

    if isinstance(source, Model):
        return ModelFeatures(source)
    if isinstance(source, Fingerprint | ModelFeatures):
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


def compare(a: Source, b: Source, *, tests: Sequence[str] | None = None, seed: int = 0,
            progress: Progress | None = None) -> Comparison:
    """Compare two models (or fingerprints) and return every piece of evidence plus the verdict."""
    start = time.perf_counter()
    fa, fb = as_features(a), as_features(b)
    classes = [registry.get(n) for n in tests] if tests else [registry.get(n) for n in registry.names()]
    evidence: list[Evidence] = []
    with hashing({"a": _model(fa), "b": _model(fb)}) as hashes:
        for i, cls in enumerate(classes):
            if progress:
                progress(cls.name, i, len(classes))
            evidence.append(cls(seed=seed).evaluate(fa, fb))
    if progress:
        progress("verdict", len(classes), len(classes))
    return Comparison(
        a=summarise(fa), b=summarise(fb), evidence=tuple(evidence), verdict=decide(evidence),
        tensors_read={"a": _read(fa), "b": _read(fb)}, bytes_read={"a": _bytes(fa), "b": _bytes(fb)},
        seconds=time.perf_counter() - start, version=__version__,
        extras={"fingerprint_excluded": _excluded(evidence, fa, fb), **hashes},
    )


def _model(f: Features) -> Model | None:
    return f.model if isinstance(f, ModelFeatures) else None


def _read(f: Features) -> tuple[str, ...]:
    return tuple(sorted(f.model.read_log)) if isinstance(f, ModelFeatures) else ()


def _bytes(f: Features) -> int:
    return f.model.bytes_read if isinstance(f, ModelFeatures) else 0


def _excluded(evidence: list[Evidence], fa: Features, fb: Features) -> list[str]:
    """Tests a fingerprint side made impossible (so reports can say what comparing weights would add)."""
    if not (fa.is_fingerprint or fb.is_fingerprint):
        return []
    return [e.test for e in evidence if not e.applicable and "fingerprint" in (e.reason or "")]
