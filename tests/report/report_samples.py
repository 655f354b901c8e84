"""Hand-made comparisons with realistic ``detail`` dicts, for renderer and CLI tests.

They mirror what the evidence tests put in ``Evidence.detail`` (per-layer values, null samples,
alignment paths, curves) so renderers are exercised before, and independently of, the engine.
"""

from __future__ import annotations

import numpy as np

from heredity.results import Comparison, Evidence, ModelSummary, Verdict

ROLES = ("q", "k", "v", "o")


def _curves(rng: np.random.Generator, layers: int, base: float) -> dict[str, list[float]]:
    depth = np.linspace(0.0, 1.0, layers)
    return {r: (base + 0.02 * depth + 0.002 * rng.standard_normal(layers)).tolist() for r in ROLES}


def _vectors(rng: np.random.Generator, n: int, related: bool) -> dict[str, list[float]]:
    a = 1.0 + 0.1 * rng.standard_normal(n)
    b = a + 0.01 * rng.standard_normal(n) if related else 1.0 + 0.1 * rng.standard_normal(n)
    return {"a": a.tolist(), "b": b.tolist()}


def evidence_set(related: bool, layers: int = 6, seed: int = 0) -> tuple[Evidence, ...]:
    """One Evidence per test, with the detail keys the renderers read."""
    rng = np.random.default_rng(seed)
    sim = rng.uniform(0.0, 0.1, (layers, layers))
    if related:
        sim[np.arange(layers), np.arange(layers)] = 0.9
    per_layer = [{"layer": i, "role": "attn_norm", "statistic": 0.99 if related else 0.01, "p_value": 1e-9 if related else 0.5} for i in range(layers)]
    return (
        Evidence("identical", True, 0.0, 1.0, summary="no tensor is byte-identical", detail={"shared": [], "compared": 2 * layers}),
        Evidence(
            "vectors", True, 0.98 if related else 0.02, 1e-12 if related else 0.41,
            summary="attn_norm correlation over 6 layers", seconds=0.2,
            detail={"layers": per_layer, "vectors": {f"attn_norm/{i}": _vectors(rng, 64, related) for i in range(3)},
                    "null": rng.normal(0, 0.1, 200).tolist()},
        ),
        Evidence("matching", True, 0.95 if related else 0.05, 1e-8 if related else 0.3, seconds=1.5,
                 summary="gate/up alignments agree", detail={"null": rng.normal(0, 0.05, 500).tolist()}),
        Evidence("layers", True, 0.9 if related else 0.05, 1e-10 if related else 0.6,
                 detail={"similarity": sim.tolist(), "path": [[i, i] for i in range(layers)]}),
        Evidence("experts", False, reason="both models are dense"),
        Evidence("attn_std", True, 0.93, 0.02, descriptive=True, summary="std curves correlate",
                 detail={"curves": {"a": _curves(rng, layers, 0.05), "b": _curves(rng, layers, 0.05)},
                         "null": rng.normal(0.8, 0.1, 100).tolist()}),
    )


def comparison(related: bool = True, **changes: object) -> Comparison:
    """A full Comparison between two small llama-style models."""
    ev = evidence_set(related)
    label = "related" if related else "independent"
    verdict = Verdict(
        label=label, p_value=6e-12 if related else 0.35,
        sentence="A and B share lineage." if related else "No evidence of shared lineage; trained independently.",
        reason="vectors: p = 1e-12" if related else "no test below the threshold",
        power="would detect a fine-tune of 1% of steps",
    )
    a = ModelSummary("models/base", "safetensors", "llama", layers=6, hidden_size=64, params=1_234_567)
    b = ModelSummary("models/tuned", "gguf", "llama", layers=6, hidden_size=64, params=1_234_567)
    names = ("model.layers.0.input_layernorm.weight", "model.norm.weight")
    kwargs: dict[str, object] = dict(
        a=a, b=b, evidence=ev, verdict=verdict, tensors_read={"a": names, "b": names},
        bytes_read={"a": 2048, "b": 4096}, seconds=1.25, version="0.1.0",
        command="heredity compare models/base models/tuned",
        extras={"tensor_sha256": {"a": {n: "ab" * 32 for n in names}, "b": {n: "cd" * 32 for n in names}}},
    )
    kwargs.update(changes)
    return Comparison(**kwargs)  # type: ignore[arg-type]
