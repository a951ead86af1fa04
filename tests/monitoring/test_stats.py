"""The drift statistics agree with scipy on the same data, and the sketch stays within its stated bound."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sp
from scipy.spatial.distance import jensenshannon as sp_js

from modelyard.monitoring import stats
from modelyard.monitoring.profile import QUANTILES, numeric_profile


@pytest.mark.parametrize(("n", "m"), [(50, 80), (300, 200), (20_000, 30_000), (100_000, 50_000)])
def test_ks_agrees_with_scipy(n: int, m: int) -> None:
    rng = np.random.default_rng(n)
    a, b = rng.normal(size=n), rng.normal(0.02, 1.1, size=m)
    d, p = stats.ks_2samp(np.sort(a), np.sort(b))
    ref = sp.ks_2samp(a, b)
    assert d == pytest.approx(ref.statistic, abs=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=0.02, abs=1e-6)


def test_chisquare_agrees_with_scipy_contingency() -> None:
    ref, cur = np.array([120, 80, 50, 30]), np.array([100, 95, 40, 45])
    stat, p, dof = stats.chisquare_2samp(ref, cur)
    expected = sp.chi2_contingency(np.vstack((ref, cur)), correction=False)
    assert (stat, p, dof) == pytest.approx((expected.statistic, expected.pvalue, expected.dof))


def test_chisquare_pools_sparse_categories() -> None:
    _stat, p, dof = stats.chisquare_2samp(np.array([500, 400, 1, 1, 0]), np.array([480, 410, 0, 2, 1]))
    assert dof == 2 and 0 <= p <= 1  # the three rare categories became one


def test_wasserstein_and_js_agree_with_scipy() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.exponential(size=5000), rng.exponential(1.2, size=7000)
    assert stats.wasserstein_sorted(np.sort(a), np.sort(b)) == pytest.approx(sp.wasserstein_distance(a, b), rel=1e-9)
    p, q = np.array([10.0, 20, 30, 0]), np.array([15.0, 15, 25, 5])
    assert stats.jensenshannon(p, q) == pytest.approx(sp_js(p / p.sum(), q / q.sum()), rel=1e-9)


def test_psi_matches_its_definition() -> None:
    p, q = np.array([0.25, 0.25, 0.5]), np.array([0.2, 0.3, 0.5])
    assert stats.psi(p * 1000, q * 1000) == pytest.approx(float(np.sum((q - p) * np.log(q / p))))


@pytest.mark.parametrize("draw", [
    lambda r, n: r.normal(size=n),
    lambda r, n: r.lognormal(size=n),
    lambda r, n: r.integers(0, 40, size=n).astype(float),  # many ties
    lambda r, n: np.round(r.gamma(2.0, size=n), 1),
])
def test_ks_from_the_sketch_is_within_one_rank_step_of_the_exact(draw) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    for shift in (0.0, 0.05, 0.5):
        ref, cur = draw(rng, 30_000), draw(rng, 20_000) + shift
        q = np.asarray(numeric_profile(ref)["quantiles"])
        exact, _ = stats.ks_2samp(np.sort(ref), np.sort(cur))
        approx, _ = stats.ks_from_quantiles(q, len(ref), np.sort(cur))
        assert abs(approx - exact) <= 1 / (2 * QUANTILES) + 1e-12


def test_wasserstein_from_the_sketch_is_close_to_the_exact() -> None:
    rng = np.random.default_rng(3)
    ref, cur = rng.normal(size=50_000), rng.normal(0.3, 1.2, size=40_000)
    q = np.asarray(numeric_profile(ref)["quantiles"])
    exact = stats.wasserstein_sorted(np.sort(ref), np.sort(cur))
    approx = stats.wasserstein_from_quantiles(q, np.sort(cur))
    # Normalised by the reference spread, the difference is far below any threshold in use (0.1).
    assert abs(approx - exact) / ref.std() < 0.005


def test_null_quantile_matches_the_simulated_distribution() -> None:
    rng = np.random.default_rng(5)
    probs = np.array([0.3, 0.3, 0.2, 0.1, 0.1])
    n, m = 2000, 150
    ref, cur = rng.multinomial(n, probs).astype(float), rng.multinomial(m, probs).astype(float)
    for kind, fn in (("jensenshannon", stats.jensenshannon), ("psi", stats.psi)):
        q95 = stats.null_quantile(kind, ref, cur, 0.05)
        sims = [fn(rng.multinomial(n, probs).astype(float), rng.multinomial(m, probs).astype(float)) for _ in range(2000)]
        assert 0.03 <= float(np.mean(np.array(sims) > q95)) <= 0.07, kind
