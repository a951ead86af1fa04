"""Two-sample drift statistics, vectorised: from raw samples, or from a reference's quantiles or counts.

Tests (a p-value, drift when it falls below ``alpha``):

- ``ks``: two-sample Kolmogorov-Smirnov; for small samples of raw data
  scipy's ``ks_2samp`` (exact p-value), otherwise Kolmogorov's limit at
  ``sqrt(n*m/(n+m))`` with Stephens' correction;
- ``chisquare``: Pearson's two-sample chi-square on the 2×k contingency table
  (both samples are samples; categories expected fewer than 5 times merged).

Distances (no p-value, drift above a threshold):

- ``wasserstein``: the Wasserstein-1 distance divided by the reference's
  standard deviation;
- ``psi``: population stability index on the reference's deciles (numeric)
  or categories, proportions floored at ``1e-4``;
- ``jensenshannon``: Jensen-Shannon distance (natural log, as scipy's
  ``jensenshannon``) on the same bins.

Under no drift, PSI ≈ (1/n + 1/m)·χ²(k−1) and the squared Jensen-Shannon
distance ≈ (1/n + 1/m)·χ²(k−1)/8, which :func:`null_quantile` uses to raise a
distance threshold so small samples do not alarm more often than ``alpha``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "chisquare_2samp", "histogram_counts", "jensenshannon", "ks_2samp", "ks_from_quantiles", "null_quantile", "psi",
    "quantile_cdf", "wasserstein_from_quantiles", "wasserstein_sorted",
]

EPS = 1e-4
EXACT_KS_MAX = 10_000  # n*m/(n+m) below this with raw data: scipy's exact p-value


def _scipy_stats() -> Any:
    """``scipy.stats`` (a second to import: only for small samples' exact p-values)."""
    try:
        from scipy import stats
    except ModuleNotFoundError:  # pragma: no cover - the extra is missing
        raise ModuleNotFoundError("monitoring needs scipy: pip install 'modelyard[monitoring]'") from None
    return stats


def _special() -> Any:
    try:
        from scipy import special
    except ModuleNotFoundError:  # pragma: no cover - the extra is missing
        raise ModuleNotFoundError("monitoring needs scipy: pip install 'modelyard[monitoring]'") from None
    return special


def ks_pvalue(d: float, n: int, m: int) -> float:
    """Two-sided p-value of a two-sample KS statistic: Kolmogorov's limit with Stephens' small-sample correction."""
    en = math.sqrt(n * m / (n + m))
    return float(min(1.0, max(0.0, _special().kolmogorov((en + 0.12 + 0.11 / en) * d))))


def chi2_sf(stat: float, dof: int) -> float:
    return float(_special().chdtrc(dof, stat))


def chi2_isf(p: float, dof: int) -> float:
    return float(_special().chdtri(dof, p))


def ks_2samp(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> tuple[float, float]:
    """(D, p) of two sorted samples without missing values."""
    n, m = len(ref_sorted), len(cur_sorted)
    if n * m / (n + m) < EXACT_KS_MAX and n * m < 5_000_000:
        res = _scipy_stats().ks_2samp(ref_sorted, cur_sorted)
        return float(res.statistic), float(res.pvalue)
    both = np.concatenate((ref_sorted, cur_sorted))
    cdf_ref = np.searchsorted(ref_sorted, both, side="right") / n
    cdf_cur = np.searchsorted(cur_sorted, both, side="right") / m
    d = float(np.max(np.abs(cdf_ref - cdf_cur)))
    return d, ks_pvalue(d, n, m)


def quantile_cdf(quantiles: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The reference's CDF at ``x`` from its values at evenly spaced ranks (linear between them)."""
    probs = np.linspace(0.0, 1.0, len(quantiles))
    # Right-continuous: at a repeated value, the highest rank holding it.
    last = np.r_[quantiles[1:] != quantiles[:-1], True]
    xs, ps = quantiles[last], probs[last]
    out = np.interp(x, xs, ps, left=0.0, right=1.0)
    out[x < xs[0]] = 0.0
    return out


def ks_from_quantiles(quantiles: np.ndarray, n_ref: int, cur_sorted: np.ndarray) -> tuple[float, float]:
    """(D, p) against a reference known by its quantiles: ``|D - D_exact| <= 1 / (len(quantiles) - 1)``."""
    m = len(cur_sorted)
    points = np.concatenate((quantiles, cur_sorted))
    f_ref = quantile_cdf(quantiles, points)
    right = np.searchsorted(cur_sorted, points, side="right") / m
    left = np.searchsorted(cur_sorted, points, side="left") / m
    d = float(max(np.max(np.abs(f_ref - right)), np.max(np.abs(f_ref - left))))
    return d, ks_pvalue(d, n_ref, m)


def wasserstein_sorted(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> float:
    """Wasserstein-1 distance of two sorted samples (the area between their CDFs)."""
    both = np.sort(np.concatenate((ref_sorted, cur_sorted)))
    deltas = np.diff(both)
    cdf_ref = np.searchsorted(ref_sorted, both[:-1], side="right") / len(ref_sorted)
    cdf_cur = np.searchsorted(cur_sorted, both[:-1], side="right") / len(cur_sorted)
    return float(np.sum(np.abs(cdf_ref - cdf_cur) * deltas))


def wasserstein_from_quantiles(quantiles: np.ndarray, cur_sorted: np.ndarray) -> float:
    """Wasserstein-1 from the reference's quantiles: the mean gap between the two quantile functions."""
    probs = np.linspace(0.0, 1.0, len(quantiles))
    cur_q = np.quantile(cur_sorted, probs)
    gaps = np.abs(quantiles - cur_q)
    return float(np.sum((gaps[1:] + gaps[:-1]) / 2) / (len(quantiles) - 1))


def decile_edges(quantiles: np.ndarray) -> np.ndarray:
    """Inner bin edges at the reference's deciles (repeated edges dropped)."""
    q = quantiles[np.linspace(0, len(quantiles) - 1, 11).round().astype(int)[1:-1]]
    return np.unique(q)


def histogram_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in the bins ``(-inf, e0], (e0, e1], ..., (ek, inf)`` of a sorted sample."""
    cuts = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate(([0], cuts, [len(sorted_values)])))


def _proportions(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.maximum(ref / max(ref.sum(), 1), EPS)
    q = np.maximum(cur / max(cur.sum(), 1), EPS)
    return p, q


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    p, q = _proportions(ref_counts.astype(float), cur_counts.astype(float))
    return float(np.sum((q - p) * np.log(q / p)))


def jensenshannon(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    p = ref_counts / max(ref_counts.sum(), 1)
    q = cur_counts / max(cur_counts.sum(), 1)
    mid = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / mid), 0.0)
        kl_q = np.where(q > 0, q * np.log(q / mid), 0.0)
    return float(math.sqrt(max(0.0, (kl_p.sum() + kl_q.sum()) / 2)))


def chisquare_2samp(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float, int]:
    """(statistic, p, degrees of freedom) of the 2×k table; sparse categories pooled until each is expected 5+ times."""
    table = np.vstack((ref_counts, cur_counts)).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    n, m = table.sum(axis=1)
    if n == 0 or m == 0:
        return 0.0, 1.0, 0
    order = np.argsort(table.sum(axis=0))[::-1]
    table = table[:, order]
    # Expected count of the smaller sample in each column; pool the rarest columns into one.
    smallest = min(n, m) / (n + m)
    expected = table.sum(axis=0) * smallest
    keep = int(np.searchsorted(-expected, -5.0, side="right"))
    if keep < table.shape[1]:
        rest = table[:, keep:].sum(axis=1, keepdims=True)
        table = np.hstack((table[:, :keep], rest)) if keep else rest
    k = table.shape[1]
    if k < 2:
        return 0.0, 1.0, 0
    totals = table.sum(axis=0)
    exp = np.outer((n, m), totals) / (n + m)
    stat = float(np.sum((table - exp) ** 2 / exp))
    p = chi2_sf(stat, k - 1)
    return stat, p, k - 1


def null_quantile(kind: str, bins: int, n: int, m: int, alpha: float) -> float:
    """The (1 − alpha) quantile of ``psi`` or ``jensenshannon`` between two samples of one distribution."""
    if bins < 2 or n == 0 or m == 0:
        return 0.0
    chi = chi2_isf(alpha, bins - 1) * (1 / n + 1 / m)
    return chi if kind == "psi" else math.sqrt(chi / 8)
