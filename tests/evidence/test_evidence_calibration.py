"""Calibration: p-values on independent pairs are uniform or conservative; nothing independent is called related.

The null pairs are toy models with the structure that fools naive statistics (shared channel profile
across layers, outlier channels, depth trends, gate/up coupled per neuron).  Numbers are in docs/LOG.md.
"""

from __future__ import annotations

import numpy as np
import pytest
from evidence_toys import Toy, features, make, to_model
from scipy import stats as sps

from heredity.compare import compare
from heredity.evidence import plan
from heredity.evidence.matching import MatchingTest
from heredity.evidence.vectors import VectorsTest

TOY = Toy(layers=3, hidden=48, heads=4, kv_heads=2, inter=64, vocab=128, biases=True)
PAIRS = 40


@pytest.fixture(scope="module")
def null_p() -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"vectors": [], "matching": []}
    for i in range(PAIRS):
        a, b = features(make(TOY, 1000 + 2 * i), TOY), features(make(TOY, 1001 + 2 * i), TOY)
        out["vectors"].append(float(VectorsTest(seed=i, n_perm=199).run(a, b).p_value or 1.0))
        out["matching"].append(float(MatchingTest(seed=i).run(a, b).p_value or 1.0))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("test", ["vectors", "matching"])
def test_null_p_values_roughly_uniform(null_p: dict[str, list[float]], test: str) -> None:
    ps = np.array(null_p[test])
    # one-sided: too many small p-values would be invalid; matching's discrete p-values are conservative
    assert sps.kstest(ps, "uniform", alternative="greater").pvalue > 1e-3, np.round(np.sort(ps), 3)
    assert ps.min() > 1e-4  # nothing close to the related threshold
    assert np.mean(ps < 0.05) < 0.2


@pytest.mark.slow
def test_no_independent_pair_called_related() -> None:
    labels = [compare(to_model(make(TOY, 3000 + 2 * i), TOY), to_model(make(TOY, 3001 + 2 * i), TOY),
                      tests=plan.parse(["identical,vectors,matching"])).verdict.label for i in range(8)]
    assert "related" not in labels
    assert labels.count("independent") >= 6, labels
