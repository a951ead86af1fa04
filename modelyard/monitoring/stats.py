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

:func:`null_quantile` (PSI, Jensen-Shannon: multinomial draws from the pooled
proportions) and :func:`wasserstein_null_quantile` (the Brownian-bridge limit)
give the distance that two samples of one distribution exceed with probability
``alpha``: the drift code raises a threshold to it, so small samples do not
alarm more often than ``alpha``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "chisquare_2samp", "histogram_counts", "jensenshannon", "ks_2samp", "ks_from_quantiles", "null_quantile", "pool_sparse", "psi",
    "quantile_cdf", "wasserstein_from_quantiles", "wasserstein_null_quantile", "wasserstein_sorted",
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


def _merged(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(both samples merged in order, the reference's CDF and the current's after each merged value but the last).

    The two sorted runs are merged by a stable argsort (Timsort: linear on two
    runs), and each CDF is a running count of whose value came next: no
    searching. Within a run of equal values only the last position's CDFs are
    the true ones; callers weigh by the gap to the next value (zero inside a
    tie) or look at tie ends only.
    """
    n, m = len(ref_sorted), len(cur_sorted)
    both = np.concatenate((ref_sorted, cur_sorted))
    order = np.argsort(both, kind="stable")
    merged = both[order]
    from_ref = np.cumsum(order[:-1] < n)
    return merged, from_ref / n, (np.arange(1, n + m) - from_ref) / m


def ks_2samp(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> tuple[float, float]:
    """(D, p) of two sorted samples without missing values."""
    n, m = len(ref_sorted), len(cur_sorted)
    if n * m / (n + m) < EXACT_KS_MAX and n * m < 5_000_000:
        res = _scipy_stats().ks_2samp(ref_sorted, cur_sorted)
        return float(res.statistic), float(res.pvalue)
    merged, cdf_ref, cdf_cur = _merged(ref_sorted, cur_sorted)
    ends = merged[1:] != merged[:-1]  # the last of each run of equal values (the very last: both CDFs are 1)
    d = float(np.max(np.abs(cdf_ref - cdf_cur)[ends], initial=0.0))
    return d, ks_pvalue(d, n, m)


def quantile_cdf(quantiles: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The reference's CDF at ``x`` from its values at ranks ``0, 1/Q, ..., 1`` (``Q + 1`` values).

    With ``q(p)`` the smallest value whose CDF reaches ``p``, the true CDF on
    ``[v_j, v_j+1)`` (``v`` the distinct quantile values, ``p_j`` the highest
    rank holding ``v_j``) lies in ``[p_j, p_j + 1/Q)``: the estimate is that
    interval's middle, a right-continuous step within ``1/(2Q)`` of the truth.
    """
    steps = len(quantiles) - 1
    probs = np.linspace(0.0, 1.0, len(quantiles))
    last = np.r_[quantiles[1:] != quantiles[:-1], True]
    xs, ps = quantiles[last], np.minimum(probs[last] + 0.5 / steps, 1.0)
    j = np.searchsorted(xs, x, side="right") - 1
    return np.where(j < 0, 0.0, ps[np.maximum(j, 0)])


def ks_from_quantiles(quantiles: np.ndarray, n_ref: int, cur_sorted: np.ndarray) -> tuple[float, float]:
    """(D, p) against a reference known by its quantiles: ``|D - D_exact| <= 1 / (2 * (len(quantiles) - 1))``.

    Both CDFs are right-continuous steps, so the largest gap is at one of their jumps.
    """
    m = len(cur_sorted)
    points = np.concatenate((quantiles, cur_sorted))
    f_ref = quantile_cdf(quantiles, points)
    f_cur = np.searchsorted(cur_sorted, points, side="right") / m
    d = float(np.max(np.abs(f_ref - f_cur)))
    return d, ks_pvalue(d, n_ref, m)


def wasserstein_sorted(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> float:
    """Wasserstein-1 distance of two sorted samples (the area between their CDFs)."""
    merged, cdf_ref, cdf_cur = _merged(ref_sorted, cur_sorted)
    return float(np.sum(np.abs(cdf_ref - cdf_cur) * np.diff(merged)))


def wasserstein_from_quantiles(quantiles: np.ndarray, cur_sorted: np.ndarray) -> float:
    """Wasserstein-1 from the reference's quantiles: the mean gap between the two quantile functions."""
    # The current's quantiles at the same ranks, interpolated linearly (numpy's default) on the sorted sample.
    pos = np.linspace(0.0, len(cur_sorted) - 1.0, len(quantiles))
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, len(cur_sorted) - 1)
    cur_q = cur_sorted[lo] + (pos - lo) * (cur_sorted[hi] - cur_sorted[lo])
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


def _psi_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    p, q = np.maximum(p, EPS), np.maximum(q, EPS)
    return np.sum((q - p) * np.log(q / p), axis=1)  # type: ignore[no-any-return]


def _js_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    mid = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(p > 0, p * np.log(p / mid), 0.0) + np.where(q > 0, q * np.log(q / mid), 0.0)
    return np.sqrt(np.maximum(kl.sum(axis=1) / 2, 0.0))  # type: ignore[no-any-return]


def null_quantile(kind: str, ref_counts: np.ndarray, cur_counts: np.ndarray, alpha: float, seed: int = 0) -> float:
    """The (1 − alpha) quantile of ``psi`` or ``jensenshannon`` between two samples of these sizes drawn
    from one distribution (the pooled proportions): simulated, with a fixed seed so verdicts repeat."""
    n, m = int(ref_counts.sum()), int(cur_counts.sum())
    if n == 0 or m == 0 or len(ref_counts) < 2:
        return 0.0
    pooled = (ref_counts + cur_counts) / (n + m)
    draws = int(min(5_000, max(2_000, 10 / alpha)))
    rng = np.random.default_rng(seed)
    p = rng.multinomial(n, pooled, size=draws) / n
    q = rng.multinomial(m, pooled, size=draws) / m
    values = _psi_rows(p, q) if kind == "psi" else _js_rows(p, q)
    return float(np.quantile(values, 1 - alpha))


def pool_sparse(ref_counts: np.ndarray, cur_counts: np.ndarray, minimum: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Bins expected fewer than ``minimum`` times in the smaller sample, pooled into one (for PSI and JS)."""
    n, m = ref_counts.sum(), cur_counts.sum()
    if n == 0 or m == 0:
        return ref_counts, cur_counts
    expected = (ref_counts + cur_counts) * min(n, m) / (n + m)
    sparse = expected < minimum
    if sparse.sum() == 1:  # one sparse bin: pool it with the next smallest
        sparse[np.argsort(expected)[1]] = True
    if not sparse.any() or sparse.all():
        return ref_counts, cur_counts
    return (np.r_[ref_counts[~sparse], ref_counts[sparse].sum()], np.r_[cur_counts[~sparse], cur_counts[sparse].sum()])


def wasserstein_null_quantile(quantiles: np.ndarray, n: int, m: int, alpha: float, seed: int = 0) -> float:
    """The (1 − alpha) quantile of the Wasserstein-1 distance between two samples of the reference's distribution.

    In the limit ``W1 ≈ sqrt(1/n + 1/m) · ∫ |B(p)| dQ(p)`` with ``B`` a Brownian
    bridge and ``Q`` the quantile function: simulated on the reference's
    quantiles (a fixed seed, so the verdict is repeatable).
    """
    grid = quantiles[:: max(1, (len(quantiles) - 1) // 100)]
    steps = len(grid) - 1
    if steps < 1 or n == 0 or m == 0:
        return 0.0
    draws = int(min(2_000, max(1_000, 10 / alpha)))
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(scale=math.sqrt(1 / steps), size=(draws, steps)), axis=1)
    p = np.linspace(0.0, 1.0, steps + 1)[1:]
    bridge = np.abs(walk - p * walk[:, -1:])
    left = np.hstack((np.zeros((draws, 1)), bridge[:, :-1]))
    area = ((left + bridge) / 2) @ np.diff(grid)
    return float(np.quantile(area, 1 - alpha)) * math.sqrt(1 / n + 1 / m)


def wasserstein_null_bound(quantiles: np.ndarray, n: int, m: int, alpha: float) -> float:
    """An upper bound of :func:`wasserstein_null_quantile`, with no simulation.

    ``E[(∫|B|dQ)²] <= (∫ sqrt(p(1-p)) dQ)²`` (Minkowski), so by Markov's
    inequality the (1 − alpha) quantile is at most that root over ``sqrt(alpha)``.
    """
    if len(quantiles) < 2 or n == 0 or m == 0:
        return 0.0
    p = np.linspace(0.0, 1.0, len(quantiles))
    mid = (p[1:] + p[:-1]) / 2
    spread = float(np.sum(np.sqrt(mid * (1 - mid)) * np.diff(quantiles)))
    return spread / math.sqrt(alpha) * math.sqrt(1 / n + 1 / m)


def distance_null_bound(kind: str, bins: int, n: int, m: int, alpha: float) -> float:
    """A generous upper bound of :func:`null_quantile` (Markov's inequality on three times the asymptotic
    mean ``(bins - 1)(1/n + 1/m)``): above it a distance is drift without simulating."""
    if bins < 2 or n == 0 or m == 0:
        return 0.0
    psi_bound = 3 * (bins - 1) * (1 / n + 1 / m) / alpha
    return psi_bound if kind == "psi" else math.sqrt(psi_bound / 8)
