"""On data with no drift every default holds its false-alarm rate; injected shifts are found.

Each simulation draws reference and current from one distribution ``TRIALS``
times with a fixed seed; the observed rate must fall within about three
binomial standard deviations of the nominal 5% (or below it, for the
conservative verdicts).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sp

from modelyard.monitoring import drift_report, profile

TRIALS = 400
LOW, HIGH = 0.02, 0.085  # 5% ± 3 binomial standard deviations at 400 trials
CATS = np.array(list("abcdef"), dtype=object)
PROBS = np.array([0.4, 0.25, 0.15, 0.1, 0.07, 0.03])


def _rate(make, trials: int = TRIALS, seed: int = 0) -> float:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    return sum(bool(make(rng)) for _ in range(trials)) / trials


def _column_drift(ref: dict, cur: dict, **kw) -> bool:  # type: ignore[no-untyped-def,type-arg]
    return bool(drift_report(ref, cur, **kw)["columns"][0]["drift"])


def test_two_sample_chisquare_holds_5_percent_with_a_small_reference() -> None:
    def trial(rng):  # type: ignore[no-untyped-def]
        return _column_drift({"c": rng.choice(CATS, 300, p=PROBS)}, {"c": rng.choice(CATS, 300, p=PROBS)})
    assert LOW <= _rate(trial) <= HIGH


def test_goodness_of_fit_against_the_reference_counts_does_not() -> None:
    # What Evidently's default does: the reference's counts taken as the true frequencies.
    def trial(rng):  # type: ignore[no-untyped-def]
        ref, cur = rng.choice(CATS, 300, p=PROBS), rng.choice(CATS, 300, p=PROBS)
        expected = np.array([(ref == c).sum() for c in CATS]) / len(ref) * len(cur)
        observed = np.array([(cur == c).sum() for c in CATS])
        keep = expected > 0
        expected = expected[keep] * observed[keep].sum() / expected[keep].sum()
        return sp.chisquare(observed[keep], expected).pvalue < 0.05
    assert _rate(trial) > 0.12  # far above the 5% it claims


def test_ks_holds_5_percent() -> None:
    def trial(rng):  # type: ignore[no-untyped-def]
        return _column_drift({"x": rng.normal(size=500)}, {"x": rng.normal(size=400)})
    assert LOW <= _rate(trial) <= HIGH


def test_ks_from_a_stored_profile_holds_5_percent() -> None:
    rng0 = np.random.default_rng(11)
    prof = profile({"x": rng0.normal(size=800)})

    def trial(rng):  # type: ignore[no-untyped-def]
        # The profile is fixed, so trials are not independent of it: compare with a fresh profile each time.
        p = profile({"x": rng.gamma(2.0, size=800)})
        return drift_report(p, {"x": rng.gamma(2.0, size=600)})["columns"][0]["drift"]
    assert prof["columns"][0]["kind"] == "numeric"
    assert LOW <= _rate(trial, 300) <= 0.095


@pytest.mark.parametrize("method", ["jensenshannon", "psi"])
def test_distance_thresholds_hold_5_percent_at_small_windows(method: str) -> None:
    # A large reference (the distance is the default) against a 100-row window.
    def trial(rng):  # type: ignore[no-untyped-def]
        return _column_drift({"c": rng.choice(CATS, 5000, p=PROBS)}, {"c": rng.choice(CATS, 100, p=PROBS)},
                             methods={"c": method})
    assert _rate(trial) <= HIGH


def test_wasserstein_default_holds_5_percent_with_heavy_tails() -> None:
    def trial(rng):  # type: ignore[no-untyped-def]
        return _column_drift({"x": rng.lognormal(size=2000)}, {"x": rng.lognormal(size=1000)})
    assert _rate(trial, 200) <= 0.05


def test_dataset_verdict_holds_5_percent_over_25_columns() -> None:
    def data(rng):  # type: ignore[no-untyped-def]
        return {**{f"x{i}": rng.normal(size=300) for i in range(20)},
                **{f"c{i}": rng.choice(CATS, 300, p=PROBS) for i in range(5)}}
    any_column = []

    def trial(rng):  # type: ignore[no-untyped-def]
        rep = drift_report(data(rng), data(rng))
        any_column.append(rep["drifted_columns"] > 0)
        return rep["dataset_drift"]
    rate = _rate(trial, 200)
    assert rate <= 0.09
    assert np.mean(any_column) > 0.5  # what an uncorrected "any column drifted" verdict would do


def test_injected_shifts_are_found() -> None:
    rng = np.random.default_rng(3)
    small = drift_report({"x": rng.normal(size=500), "c": rng.choice(CATS, 500, p=PROBS)},
                         {"x": rng.normal(0.4, size=500), "c": rng.choice(CATS, 500, p=PROBS[::-1])})
    assert [c["drift"] for c in small["columns"]] == [True, True] and small["dataset_drift"]
    large = drift_report({"x": rng.normal(size=50_000)}, {"x": rng.normal(0.2, size=50_000)})
    assert large["columns"][0]["method"] == "wasserstein" and large["columns"][0]["drift"]
    assert large["columns"][0]["statistic"] == pytest.approx(0.2, abs=0.02)
