"""The challenger gate's statistics hold their error rate: a challenger no better than the champion
is promoted in at most alpha of the trials (within the binomial bound), a better one in most."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelyard.promotion import stats

TRIALS, ROWS, ALPHA = 200, 300, 0.05


def binomial_upper(n: int, p: float, tail: float = 0.001) -> int:
    """The smallest k with P(X > k) < tail for X ~ Bin(n, p): more promotions than k refute a rate <= p."""
    cdf = 0.0
    for k in range(n + 1):
        cdf += math.comb(n, k) * p**k * (1 - p) ** (n - k)
        if 1 - cdf < tail:
            return k
    return n


def _promotions(metric: str, champion_sd: float, challenger_sd: float, min_effect: float = 0.0) -> int:
    rng = np.random.default_rng(7)
    champion = rng.normal(0, champion_sd, (TRIALS, ROWS))
    challenger = rng.normal(0, challenger_sd, (TRIALS, ROWS))
    loss = (lambda e: np.abs(e)) if metric == "mae" else (lambda e: e * e)
    lower = stats.bootstrap_lower_bound(metric, loss(champion), loss(challenger), ALPHA, 500, rng)
    return int((lower > min_effect).sum())


@pytest.mark.parametrize("metric", ["rmse", "mae"])
def test_bootstrap_promotes_an_equal_challenger_at_most_alpha_of_the_time(metric: str) -> None:
    promoted = _promotions(metric, 1.0, 1.0)
    assert promoted <= binomial_upper(TRIALS, ALPHA), f"{promoted}/{TRIALS} equal challengers promoted"


def test_bootstrap_promotes_a_better_challenger_and_honours_the_minimum_effect() -> None:
    assert _promotions("rmse", 1.0, 0.8) >= 0.9 * TRIALS  # rmse 1.0 -> 0.8: found nearly always
    # ... but not when the required effect is larger than the real one (0.2)
    assert _promotions("rmse", 1.0, 0.8, min_effect=0.3) <= binomial_upper(TRIALS, ALPHA)


def test_mcnemar_promotes_an_equally_accurate_challenger_at_most_alpha_of_the_time() -> None:
    rng = np.random.default_rng(11)
    champion_right = rng.random((TRIALS, ROWS)) < 0.8
    challenger_right = rng.random((TRIALS, ROWS)) < 0.8
    only_challenger = (challenger_right & ~champion_right).sum(axis=1)
    only_champion = (champion_right & ~challenger_right).sum(axis=1)
    promoted = int((stats.mcnemar_p(only_challenger, only_champion) < ALPHA).sum())
    assert promoted <= binomial_upper(TRIALS, ALPHA)
    better = rng.random((TRIALS, ROWS)) < 0.9
    wins = ((stats.mcnemar_p((better & ~champion_right).sum(axis=1), (champion_right & ~better).sum(axis=1))
             < ALPHA).sum())
    assert wins >= 0.9 * TRIALS


def test_mcnemar_p_value_is_the_exact_binomial_tail() -> None:
    # 8 discordant pairs, all for the challenger: P(X >= 8) = 1/256
    assert stats.mcnemar_p(8, 0)[0] == pytest.approx(1 / 256)
    assert stats.mcnemar_p(4, 4)[0] == pytest.approx(sum(math.comb(8, k) for k in range(4, 9)) / 256)
    assert stats.mcnemar_p(0, 0)[0] == 1.0


def test_compare_reports_values_effect_and_verdict() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(100, 20, 400)
    champion = y + rng.normal(0, 10, 400)
    challenger = y + rng.normal(0, 5, 400)
    r = stats.compare("rmse", y, champion, challenger, min_effect=1.0)
    assert r["passed"] and r["champion"] > r["challenger"] and r["lower_bound"] > 1.0
    assert stats.compare("rmse", y, challenger, champion)["passed"] is False
    acc = stats.compare("accuracy", np.zeros(100), np.r_[np.zeros(60), np.ones(40)], np.zeros(100))
    assert acc["passed"] and acc["test"] == "mcnemar" and acc["improvement"] == pytest.approx(0.4)


def test_baseline_is_beaten_only_by_more_than_the_minimum_effect() -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(0, 1, 500)
    pred = y + rng.normal(0, 1, 500)  # rmse about 1
    assert stats.compare_baseline("rmse", y, pred, baseline=1.5)["passed"]
    assert not stats.compare_baseline("rmse", y, pred, baseline=1.5, min_effect=0.6)["passed"]
    assert not stats.compare_baseline("rmse", y, pred, baseline=1.0)["passed"]
    labels = (rng.random(500) < 0.5).astype(int)
    assert stats.compare_baseline("accuracy", labels, labels, baseline=0.9)["passed"]
