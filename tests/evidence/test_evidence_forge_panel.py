"""Calibration on really trained independent models: a panel of forge llamas that differ only in seed.

Every pair of the panel is independent by construction (same config, same corpus, different init and
data order), so no pair may be called `related`, and the p-values of the tests the verdict uses must
not pile up near 0.  Pairs share models, so the p-values are not independent draws; the KS check is
loose (an excess of small p-values at the 0.001 level) and still fails a test whose null is too narrow.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pytest

pytest.importorskip("torch")

from scipy.stats import kstest  # noqa: E402

from heredity.compare import compare  # noqa: E402
from heredity.results import Comparison  # noqa: E402

K = 10  # models in the panel: K * (K - 1) / 2 = 45 pairs (not independent draws: pairs share models)
STEPS = 40  # enough to move norms and biases off their init; each model trains in a few seconds
SEED0 = 101
CALIBRATED = ("vectors", "matching")  # tests whose p-values feed the verdict and have a continuous null


@pytest.fixture(scope="session")
def panel(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from heredity.forge.config import preset
    from heredity.forge.data import load_corpus
    from heredity.forge.io import save_model
    from heredity.forge.train import train

    root = tmp_path_factory.mktemp("forge_panel")
    cfg, text = preset("llama", "tiny"), load_corpus("fables")
    return [Path(save_model(train(cfg, text, STEPS, SEED0 + k)[0], root / f"seed{SEED0 + k}")) for k in range(K)]


@pytest.fixture(scope="session")
def comparisons(panel: list[Path]) -> dict[tuple[int, int], Comparison]:
    return {(i, j): compare(panel[i], panel[j]) for i, j in combinations(range(K), 2)}


def p_values(comparisons: dict[tuple[int, int], Comparison], test: str) -> list[float]:
    """The applicable p-values of one test over the panel's pairs."""
    out = []
    for c in comparisons.values():
        ev = next(e for e in c.evidence if e.test == test)
        if ev.applicable and ev.p_value is not None:
            out.append(float(ev.p_value))
    return out


@pytest.mark.slow
def test_no_seed_pair_is_related(comparisons: dict[tuple[int, int], Comparison]) -> None:
    labels = {pair: c.verdict.label for pair, c in comparisons.items()}
    assert "related" not in labels.values(), {pair: (c.verdict.label, c.verdict.reason) for pair, c in comparisons.items()}
    assert len(labels) == K * (K - 1) // 2


@pytest.mark.slow
@pytest.mark.parametrize("test", CALIBRATED)
def test_no_excess_of_small_p_values(comparisons: dict[tuple[int, int], Comparison], test: str) -> None:
    ps = p_values(comparisons, test)
    assert len(ps) == K * (K - 1) // 2, f"{test} did not run on every pair"
    ks = kstest(ps, "uniform", alternative="greater")
    print(f"\n{test}: KS D+={ks.statistic:.3f} p={ks.pvalue:.3g} min p={min(ps):.3g} "
          f"p-values={sorted(round(p, 4) for p in ps)}")
    assert ks.pvalue > 1e-3, (test, ks.statistic, sorted(ps))
    assert min(ps) > 1e-4, (test, sorted(ps))
