"""Hand-made comparisons with realistic typed results (power, plot payloads), for renderer and CLI tests.

They mirror what the evidence tests attach (per-layer values, null samples, alignment paths, curves)
so renderers are exercised before, and independently of, the engine.
"""

from __future__ import annotations

import numpy as np

from heredity.plotdata import CurvesPlot, HeatmapPlot, NullPlot, ScatterPanel, ScatterPlot, floats
from heredity.results import Comparison, Evidence, Exclusion, ModelSummary, Power, Verdict

ROLES = ("q", "k", "v", "o")


def _curves(rng: np.random.Generator, layers: int, base: float) -> dict[str, tuple[float, ...]]:
    depth = np.linspace(0.0, 1.0, layers)
    return {r: floats(base + 0.02 * depth + 0.002 * rng.standard_normal(layers)) for r in ROLES}


def _panel(rng: np.random.Generator, label: str, n: int, related: bool) -> ScatterPanel:
    a = 1.0 + 0.1 * rng.standard_normal(n)
    b = a + 0.01 * rng.standard_normal(n) if related else 1.0 + 0.1 * rng.standard_normal(n)
    return ScatterPanel(label, floats(a), floats(b))


def _null(test: str, samples: np.ndarray, observed: float) -> NullPlot:
    return NullPlot(f"{test}: null distribution", "Grey: the statistic under independence. Red: observed.",
                    floats(samples), observed, "statistic")


def evidence_set(related: bool, layers: int = 6, seed: int = 0) -> tuple[Evidence, ...]:
    """One Evidence per test, with power statements and the plot payloads the renderers draw."""
    rng = np.random.default_rng(seed)
    sim = rng.uniform(0.0, 0.1, (layers, layers))
    if related:
        sim[np.arange(layers), np.arange(layers)] = 0.9
    per_layer = [{"layer": i, "role": "attn_norm", "statistic": 0.99 if related else 0.01, "p_value": 1e-9 if related else 0.5} for i in range(layers)]
    strong = Power(True, "a correlation of 0.1 across the vectors would reach p<1e-6")
    scatter = ScatterPlot("vectors: aligned vector entries, A against B", "Each dot is one entry.",
                          tuple(_panel(rng, f"attn_norm@{i}", 64, related) for i in range(3)))
    heat = HeatmapPlot("layers: layer similarity", "Brighter cells: more similar layers.",
                       tuple(floats(r) for r in sim), "layer of B", "layer of A", "similarity",
                       path=tuple((i, i) for i in range(layers)))
    curves = CurvesPlot("attn_std: per-layer curves of A and B", "Solid: A, dashed: B.",
                        _curves(rng, layers, 0.05), _curves(rng, layers, 0.05))
    return (
        Evidence("identical", True, 0.0, 1.0, summary="no tensor is byte-identical", detail={"shared": [], "compared": 2 * layers},
                 power=Power(False, "any shared tensor is decisive"), compares="byte-identical tensors (sha256)"),
        Evidence(
            "vectors", True, 0.98 if related else 0.02, 1e-12 if related else 0.41,
            summary="attn_norm correlation over 6 layers", seconds=0.2, detail={"layers": per_layer},
            power=strong, compares="aligned 1-D vectors (norms, biases), per layer",
            plots=(scatter, _null("vectors", rng.normal(0, 0.1, 200), 0.98 if related else 0.02)),
        ),
        Evidence("matching", True, 0.95 if related else 0.05, 1e-8 if related else 0.3, seconds=1.5,
                 summary="gate/up alignments agree", power=strong, compares="neuron alignment, gate vs up (Hungarian)",
                 plots=(_null("matching", rng.normal(0, 0.05, 500), 0.95 if related else 0.05),)),
        Evidence("layers", True, 0.9 if related else 0.05, 1e-10 if related else 0.6, descriptive=True,
                 power=Power(False, "descriptive"), compares="which layer of A matches which layer of B",
                 detail={"path": [[i, i] for i in range(layers)]}, plots=(heat,)),
        Evidence("experts", False, reason="both models are dense", excluded=Exclusion.STRUCTURE,
                 compares="MoE experts against the dense FFN"),
        Evidence("attn_std", True, 0.93, None, descriptive=True, summary="std curves correlate",
                 power=Power(False, "descriptive"), compares="per-layer std curves of q/k/v/o (HonestAGI)",
                 context="The public fingerprint: 0.930 for this pair; independently trained models also score high.",
                 plots=(curves, _null("attn_std", rng.normal(0.8, 0.1, 100), 0.93))),
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
