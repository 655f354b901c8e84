"""The statistics helpers against brute force and known values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from heredity import stats


def test_fisher_matches_scipy() -> None:
    ps = [0.01, 0.2, 0.5]
    assert stats.fisher_combine(ps) == pytest.approx(sps.combine_pvalues(ps, method="fisher").pvalue)


def test_holm_step_down() -> None:
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5]) == [0.5]


def test_cauchy_bounds() -> None:
    assert stats.cauchy_combine([0.5, 0.5]) == pytest.approx(0.5)
    assert stats.cauchy_combine([1e-30, 0.9]) < 1e-29
    assert 0.0 < stats.cauchy_combine([0.99, 0.999]) <= 1.0


@pytest.mark.parametrize("v,expected", [(np.ones(64), True), (np.zeros(8), True), (np.r_[np.zeros(99), 1.0, 2.0], True),
                                        (np.arange(10.0), False)])
def test_is_constant(v: np.ndarray, expected: bool) -> None:
    assert stats.is_constant(v) is expected


def test_linear_perm_variance_matches_monte_carlo() -> None:
    """The exact permutation variance of a shared-permutation statistic, checked by simulation,
    including strongly dependent rows (the case Fisher over layers would get wrong)."""
    rng = np.random.default_rng(0)
    base_a, base_b = rng.normal(size=50), rng.normal(size=50)
    ra = np.stack([stats.rank_standardise(base_a + 0.3 * rng.normal(size=50)) for _ in range(6)])
    rb = np.stack([stats.rank_standardise(base_b + 0.3 * rng.normal(size=50)) for _ in range(6)])
    stat, z = stats.linear_perm_z(ra, rb)
    null = np.array([np.sum(ra * rb[:, rng.permutation(50)]) for _ in range(4000)])
    assert abs(null.mean()) < 0.1
    assert np.std(null) == pytest.approx(stat / z if z else np.std(null), rel=0.1)


def test_agreement_p_poisson() -> None:
    assert stats.agreement_p(0, 100, 100) == 1.0
    assert stats.agreement_p(1, 100, 100) == pytest.approx(1 - math.exp(-1), rel=1e-6)
    assert stats.agreement_p(100, 100, 100) < 1e-150  # ~ 1/100!


def test_mc_p_value_never_zero() -> None:
    assert stats.mc_p_value(10.0, np.zeros(99)) == pytest.approx(0.01)
    assert stats.mc_p_value(-1.0, np.zeros(9)) == 1.0


def test_hungarian_rectangular() -> None:
    cost = -np.eye(3, 5)
    assert list(stats.hungarian(cost)) == [0, 1, 2]
    with pytest.raises(ValueError):
        stats.hungarian(np.zeros((4, 2)))


def test_spearman_perm_p_calibrated() -> None:
    rng = np.random.default_rng(1)
    ps = [stats.spearman_perm_p(stats.spearman(rng.permutation(200), rng.permutation(200)), 200) for _ in range(300)]
    assert sps.kstest(ps, "uniform").pvalue > 1e-3


# -- the distributions computed without scipy, checked against it --------------------------------

def test_rankdata_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    for x in (rng.standard_normal(50), rng.integers(0, 5, 40).astype(float), np.array([3.0]), np.zeros(0),
              np.array([1.0, np.nan, 2.0])):
        np.testing.assert_array_equal(stats.rankdata(x), sps.rankdata(x))


@pytest.mark.parametrize("dof", [2, 4, 10, 64])
def test_chi2_sf_even_matches_scipy(dof: int) -> None:
    for x in (0.0, 0.5, dof * 0.7, dof, 3 * dof, 200.0, 1200.0):
        assert stats.chi2_sf_even(x, dof) == pytest.approx(float(sps.chi2.sf(x, dof)), rel=1e-9, abs=1e-300)
    with pytest.raises(ValueError):
        stats.chi2_sf_even(1.0, 3)


def test_poisson_sf_matches_scipy() -> None:
    for mu in (0.01, 0.0465, 0.5, 1.0, 3.0, 40.0):
        for k in (0, 1, 2, 3, 5, 20, 100, 512):
            want = float(sps.poisson.sf(k - 1, mu))
            assert stats.poisson_sf(k, mu) == pytest.approx(want, rel=1e-9, abs=1e-300), (k, mu)


def test_pearson_p_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    for n in (3, 5, 12, 48, 400):
        for coupling in (0.0, 0.3, 0.9, 0.999):
            x = rng.standard_normal(n)
            y = coupling * x + rng.standard_normal(n)
            assert stats.pearson_p(x, y) == pytest.approx(float(sps.pearsonr(x, y).pvalue), rel=1e-7, abs=1e-290)


def test_normal_sf_far_tail() -> None:
    for z in (-3.0, 0.0, 1.0, 5.0, 20.0, 37.0):
        assert stats.normal_sf(z) == pytest.approx(float(sps.norm.sf(z)), rel=1e-9)


def test_distinct_and_spread_match_numpy_unique() -> None:
    rng = np.random.default_rng(5)
    for size in (0, 1, 2, 7, 300):
        v = rng.integers(-5, 20, size=size)
        assert np.array_equal(stats.distinct(v), np.unique(v))
    for n, k in ((1, 1), (5, 5), (10, 3), (7, 20), (1000, 256), (33, 32)):
        want = np.unique(np.linspace(0, n - 1, k).round().astype(int))
        got = stats.spread(n, k)
        assert np.array_equal(got, want), (n, k)
        assert got[0] == 0 and got[-1] == n - 1
