"""Paired comparisons of a challenger with a champion on the same rows, vectorised with numpy.

- Regression metrics (``rmse``, ``mse``, ``mae``): a paired bootstrap. Rows are resampled with
  replacement, the same rows for both models; the challenger wins when the one-sided lower
  confidence bound (level ``1 - alpha``) of the improvement ``champion - challenger`` is above
  ``min_effect``.
- ``accuracy``: McNemar's exact test on the discordant pairs (rows one model gets right and the
  other wrong): one-sided p-value of "the challenger is no better", and the observed gain in
  accuracy must reach ``min_effect``.
- Against a constant baseline (no champion yet): the bootstrap bound of ``baseline - metric``
  (``metric - baseline`` for accuracy) must be above ``min_effect``.

>>> r = compare("rmse", y, champion_pred, challenger_pred, min_effect=0.5, alpha=0.05, seed=0)
>>> r["passed"], r["improvement"], r["lower_bound"]
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np

__all__ = ["LOWER_IS_BETTER", "METRICS", "bootstrap_lower_bound", "compare", "compare_baseline", "mcnemar_p"]

METRICS = ("rmse", "mse", "mae", "accuracy")
LOWER_IS_BETTER = {"rmse": True, "mse": True, "mae": True, "accuracy": False}


def _losses(metric: str, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    if metric == "accuracy":
        return cast("np.ndarray", (pred == y).astype(float))
    err = pred.astype(float) - y.astype(float)
    return cast("np.ndarray", np.abs(err) if metric == "mae" else err * err)


def _finish(metric: str, per_row_mean: np.ndarray) -> np.ndarray:
    return np.sqrt(per_row_mean) if metric == "rmse" else per_row_mean


def metric_value(metric: str, y: Any, pred: Any) -> float:
    losses = _losses(metric, np.asarray(y), np.asarray(pred))
    return float(_finish(metric, np.asarray(losses.mean())))


def bootstrap_lower_bound(metric: str, a_losses: np.ndarray, b_losses: np.ndarray | None, alpha: float,
                          n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap distribution of ``metric(a) - metric(b)`` on paired resamples (``b`` None: of ``metric(a)``);
    the ``alpha`` quantile, one value per row of ``a_losses`` when it is 2-D (one trial per row)."""
    a2 = np.atleast_2d(a_losses)
    trials, n = a2.shape
    out = np.empty(trials)
    for t in range(trials):
        idx = rng.integers(0, n, size=(n_boot, n))
        stat = _finish(metric, a2[t][idx].mean(axis=1))
        if b_losses is not None:
            stat = stat - _finish(metric, np.atleast_2d(b_losses)[t][idx].mean(axis=1))
        out[t] = np.quantile(stat, alpha)
    return out


def mcnemar_p(challenger_only: Any, champion_only: Any) -> np.ndarray:
    """One-sided exact McNemar p-value of "the challenger is no better": ``P(X >= c)``, X ~ Bin(b + c, 1/2),
    with ``c`` the rows only the challenger gets right and ``b`` those only the champion gets right."""
    c = np.atleast_1d(np.asarray(challenger_only, dtype=int))
    b = np.atleast_1d(np.asarray(champion_only, dtype=int))
    out = np.ones(len(c))
    for i, (ci, bi) in enumerate(zip(c, b, strict=True)):
        n = int(ci + bi)
        if n == 0:
            continue
        ks = np.arange(int(ci), n + 1)
        logs = np.array([math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) for k in ks]) - n * math.log(2)
        out[i] = min(1.0, float(np.exp(logs).sum()))
    return out


def compare(metric: str, y: Any, champion_pred: Any, challenger_pred: Any, *, min_effect: float = 0.0,
            alpha: float = 0.05, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Is the challenger better than the champion by at least ``min_effect`` (in the metric's units)?"""
    y, ch, cp = np.asarray(y), np.asarray(champion_pred), np.asarray(challenger_pred)
    champion_value, challenger_value = metric_value(metric, y, ch), metric_value(metric, y, cp)
    improvement = (champion_value - challenger_value) if LOWER_IS_BETTER[metric] else (challenger_value - champion_value)
    out: dict[str, Any] = {"metric": metric, "rows": len(y), "champion": champion_value,
                           "challenger": challenger_value, "improvement": improvement, "min_effect": min_effect,
                           "alpha": alpha}
    if metric == "accuracy":
        right_ch, right_cp = ch == y, cp == y
        only_cp, only_ch = int((right_cp & ~right_ch).sum()), int((right_ch & ~right_cp).sum())
        p = float(mcnemar_p(only_cp, only_ch)[0])
        out.update(test="mcnemar", p_value=p, challenger_only_right=only_cp, champion_only_right=only_ch,
                   passed=bool(p < alpha and improvement >= min_effect))
        return out
    rng = np.random.default_rng(seed)
    lower = float(bootstrap_lower_bound(metric, _losses(metric, y, ch), _losses(metric, y, cp), alpha, n_boot,
                                        rng)[0])
    out.update(test="paired_bootstrap", n_boot=n_boot, lower_bound=lower, passed=bool(lower > min_effect))
    return out


def compare_baseline(metric: str, y: Any, challenger_pred: Any, baseline: float, *, min_effect: float = 0.0,
                     alpha: float = 0.05, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Does the challenger beat a constant ``baseline`` value of the metric by at least ``min_effect``?"""
    y, cp = np.asarray(y), np.asarray(challenger_pred)
    value = metric_value(metric, y, cp)
    sign = -1.0 if LOWER_IS_BETTER[metric] else 1.0
    rng = np.random.default_rng(seed)
    dist_lower = bootstrap_lower_bound(metric, _losses(metric, y, cp), None, alpha if sign > 0 else 1 - alpha,
                                       n_boot, rng)[0]
    # lower-is-better: the upper (1 - alpha) quantile of the metric bounds the improvement baseline - metric below
    lower = float(sign * (dist_lower - baseline))
    improvement = float(sign * (value - baseline))
    return {"metric": metric, "rows": len(y), "baseline": baseline, "challenger": value,
            "improvement": improvement, "min_effect": min_effect, "alpha": alpha, "test": "bootstrap_vs_baseline",
            "n_boot": n_boot, "lower_bound": lower, "passed": bool(lower > min_effect)}
