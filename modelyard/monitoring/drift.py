"""Drift per column and for the whole dataset: current data against a reference (raw or profiled).

Defaults by kind and reference size (as users of Evidently expect them):

==============================  ==========================  ==========================
column                           reference ≤ 1,000 rows        larger reference
==============================  ==========================  ==========================
numeric, 6+ distinct values      ``ks`` (p < alpha)            ``wasserstein`` (> 0.1)
numeric ≤ 5 values, categorical  ``chisquare`` (p < alpha)     ``jensenshannon`` (> 0.1)
text                             the numeric default on the length in characters;
                                 with embeddings (opt-in): ``mmd`` on them (p < alpha)
==============================  ==========================  ==========================

Embedding drift (``mmd``, :mod:`~modelyard.monitoring.embeddings`) runs on a text
column when its reference profile holds an embedding sample, or, with raw
reference data, when ``embeddings=True`` (default: the setting
``MODELYARD_MONITORING_TEXT_EMBEDDINGS``); the length test is then reported
beside it under ``length``.

Large samples make every test significant for differences nobody cares about;
distances measure the size of the change instead. A distance threshold is
raised, when the samples are small, to the distance that no drift would reach
with probability ``1 - alpha`` (PSI and Jensen-Shannon: simulated multinomial draws,
:func:`~modelyard.monitoring.stats.null_quantile`; Wasserstein: its Brownian
bridge limit simulated on the reference's quantiles), so each default holds its
false-alarm rate at any sample size. PSI and Jensen-Shannon pool the bins
expected fewer than 5 times in the smaller sample.

The dataset-level verdict ``dataset_drift`` is Bonferroni-corrected: drift when
any column's p-value is below ``alpha / m`` (``m`` columns compared), or a
distance exceeds both its threshold and its null quantile at ``alpha / m``.
Its false-alarm rate on data with no drift is at most ``alpha`` whatever the
correlation between columns (``tests/monitoring/test_false_alarms.py``
measures it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidParameterValue
from . import stats
from .frames import Columns, as_columns
from .profile import (
    check_profile,
    column_map,
    embeddings_enabled,
    infer_kind,
    profile_column,
    sorted_profile,
    tokenize,
)

__all__ = ["DEFAULT_THRESHOLDS", "METHODS", "drift_report"]

TESTS = ("ks", "chisquare", "mmd")
DISTANCES = ("wasserstein", "psi", "jensenshannon")
METHODS = TESTS + DISTANCES
DEFAULT_THRESHOLDS = {"wasserstein": 0.1, "psi": 0.1, "jensenshannon": 0.1}
SMALL_REFERENCE = 1000
FEW_VALUES = 5
HISTOGRAM_BINS = 20


@dataclass
class _Ref:
    """One reference column: its profile, and its raw values when given (statistics are then exact)."""

    prof: dict[str, Any]
    raw: np.ndarray | None = None  # numeric: the sorted finite values; text: the strings
    counts: dict[str, int] | None = None  # categorical: every category's count


def drift_report(
    reference: Any,
    current: Any,
    *,
    alpha: float = 0.05,
    methods: dict[str, str] | None = None,
    thresholds: dict[str, float] | None = None,
    kinds: dict[str, str] | None = None,
    columns: list[str] | None = None,
    embeddings: bool | None = None,
) -> dict[str, Any]:
    """Compare ``current`` with ``reference`` column by column.

    ``reference`` is raw data (a DataFrame, a mapping of columns, a CSV/Parquet
    path: statistics are exact) or a stored profile (a dict from
    :func:`~modelyard.monitoring.profile`: statistics from its sketch, marked
    ``"from_sketch": true``). ``methods`` picks a method per column,
    ``thresholds`` overrides the distance thresholds by method.

    >>> rep = drift_report({"x": np.arange(500.0)}, {"x": np.arange(500.0) + 250})
    >>> rep["dataset_drift"], rep["columns"][0]["method"]
    (True, 'ks')
    """
    if not 0 < alpha < 1:
        raise InvalidParameterValue(f"alpha: {alpha!r} is not a probability; give a number between 0 and 1 (0.05).")
    limits = {**DEFAULT_THRESHOLDS, **check_thresholds(thresholds or {})}
    cur = as_columns(current, "current")
    refs = _reference_columns(reference, kinds or {}, embeddings)
    names = [n for n in refs if n in cur] if columns is None else list(columns)
    for name in names:
        if name not in refs or name not in cur:
            where = "reference" if name not in refs else "current data"
            raise InvalidParameterValue(f"columns: {name!r} is not in the {where}.")
    chosen = _check_methods(methods or {}, names)
    m = max(len(names), 1)
    out = []
    for name in names:
        out.append(_column(name, refs[name], cur[name], chosen.get(name), alpha, m, limits))
    drifted = [c for c in out if c["drift"]]
    return {
        "dataset_drift": any(c.pop("_dataset") for c in out),
        "share_drifted": len(drifted) / len(out) if out else 0.0,
        "drifted_columns": len(drifted),
        "alpha": alpha,
        "dataset_rule": f"any column drifts at alpha/{m} (Bonferroni): false-alarm rate <= {alpha}",
        "reference_rows": _rows(refs),
        "current_rows": len(next(iter(cur.values()))) if cur else 0,
        "missing_columns": sorted(set(refs) - set(cur)),
        "new_columns": sorted(set(cur) - set(refs)),
        "columns": out,
    }


def _rows(refs: dict[str, _Ref]) -> int:
    return int(next(iter(refs.values())).prof["count"]) if refs else 0


def check_thresholds(thresholds: dict[str, float]) -> dict[str, float]:
    for method, value in thresholds.items():
        if method not in DISTANCES:
            raise InvalidParameterValue(f"thresholds: {method!r} is not a distance; use {', '.join(DISTANCES)} (tests use alpha).")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
            raise InvalidParameterValue(f"thresholds[{method!r}]: {value!r}; give a number > 0.")
    return thresholds


def _check_methods(methods: dict[str, str], names: list[str]) -> dict[str, str]:
    for name, method in methods.items():
        if method not in METHODS:
            raise InvalidParameterValue(f"methods[{name!r}]: {method!r} is unknown; use one of {', '.join(METHODS)}.")
        if name not in names:
            raise InvalidParameterValue(f"methods: no column {name!r} is compared; known: {names[:20]}.")
    return methods


def _reference_columns(reference: Any, kinds: dict[str, str], embeddings: bool | None) -> dict[str, _Ref]:
    if isinstance(reference, dict) and reference.get("format") == 1 and "columns" in reference:
        return {name: _Ref(c, None) for name, c in column_map(check_profile(reference)).items()}
    cols: Columns = as_columns(reference, "reference")
    out = {}
    for name, col in cols.items():
        kind = kinds.get(name) or infer_kind(col)
        if kind == "numeric":
            finite = np.sort(col[~np.isnan(col)])
            out[name] = _Ref({"name": name, "kind": kind, **sorted_profile(finite, len(col))}, raw=finite)
        elif kind == "text":
            values = col.astype(str) if col.dtype.kind == "f" else col
            out[name] = _Ref(profile_column(name, values, kind, embeddings_enabled(embeddings)), raw=values)
        else:
            counts = _value_counts(col.astype(str) if col.dtype.kind == "f" else col)
            present = sum(counts.values())
            out[name] = _Ref({"name": name, "kind": kind, "count": len(col), "missing": len(col) - present,
                              "distinct": len(counts), "categories": counts, "other": 0}, counts=counts)
    return out


def _column(name: str, ref: _Ref, col: np.ndarray, method: str | None, alpha: float, m: int,
            limits: dict[str, float]) -> dict[str, Any]:
    kind = ref.prof["kind"]
    if method == "mmd" and kind != "text":
        raise InvalidParameterValue(f"methods[{name!r}]: mmd (embedding drift) is for text columns; {name!r} is {kind}.")
    sketch = ref.raw is None and ref.counts is None
    if kind == "numeric":
        if col.dtype.kind != "f":
            col = _to_float(col)
        cur = np.sort(col[~np.isnan(col)])
        if "values" in ref.prof and len(ref.prof["values"]) <= FEW_VALUES and method not in ("ks", "wasserstein"):
            keys = [repr(float(v)) for v in ref.prof["values"]]
            ref_counts = dict(zip(keys, ref.prof["counts"], strict=True))
            uniq, cnt = np.unique(cur, return_counts=True)
            res = _categorical(ref_counts, 0, {repr(float(v)): int(c) for v, c in zip(uniq, cnt, strict=True)},
                               method, alpha, m, limits)
            sketch = False  # exact counts
        else:
            res = _numeric(ref, cur, method, alpha, m, limits)
    elif kind == "text":
        length = ref.prof["length"]
        texts = [v for v in (col.astype(str) if col.dtype.kind == "f" else col) if v is not None]
        cur = np.sort(np.fromiter((len(t) for t in texts), dtype=np.float64, count=len(texts)))
        raw = None if ref.raw is None else np.sort(np.fromiter((len(t) for t in ref.raw if t is not None), dtype=np.float64))
        if method == "mmd" or (method is None and "embedding" in ref.prof):
            res = _embedding(name, ref.prof, texts, alpha, m)
            res["length"] = {k: v for k, v in _numeric(_Ref(length, raw), cur, None, alpha, m, limits).items()
                             if not k.startswith("_") and k != "histogram"}
        else:
            res = _numeric(_Ref(length, raw), cur, method, alpha, m, limits)
        res["oov_rate"] = _oov_rate(ref.prof, texts)
        res["reference_oov_rate"] = ref.prof["other_tokens"] / max(ref.prof["token_total"], 1)
    else:
        values = col.astype(str) if col.dtype.kind == "f" else col
        cur_counts = _value_counts(values)
        other = int(ref.prof.get("other", 0))
        res = _categorical(ref.prof["categories"], other, cur_counts, method, alpha, m, limits)
        sketch = sketch and other > 0  # only the top categories were kept
    present = res.pop("_present")
    return {"column": name, "kind": kind, **res, "from_sketch": sketch, "current_missing": int(len(col) - present)}


def _embedding(name: str, prof: dict[str, Any], texts: list[str], alpha: float, m: int) -> dict[str, Any]:
    """Embedding drift of a text column: MMD² of the reference's embedding sample against the current texts'."""
    from . import embeddings

    if "embedding" not in prof:
        raise InvalidParameterValue(
            f"methods[{name!r}]: mmd needs the reference's embeddings; profile it with embeddings=True"
            " (or MODELYARD_MONITORING_TEXT_EMBEDDINGS=true).")
    ref = embeddings.decode(prof["embedding"], f"profile column {name!r}.embedding")
    base = {"method": "mmd", "reference_rows": int(prof["count"] - prof["missing"]), "current_rows": len(texts),
            "_present": len(texts), "embedding_sample": [len(ref), min(len(texts), embeddings.SAMPLE)]}
    if len(texts) < 2:
        return {**base, "statistic": None, "p_value": None, "threshold": None, "drift": False, "_dataset": False,
                "note": "no values to compare"}
    stat, p = embeddings.mmd_test(ref, embeddings.current_sample(texts))
    return {**base, "statistic": _round(stat), "p_value": p, "threshold": alpha, "drift": p < alpha,
            "_dataset": p < alpha / m}


def _to_float(col: np.ndarray) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.to_numeric(pd.Series(col, dtype=object), errors="coerce"), dtype=np.float64)


def _value_counts(values: np.ndarray) -> dict[str, int]:
    import pandas as pd

    counts = pd.Series(values, dtype=object, copy=False).value_counts(dropna=True)
    return {str(k): int(v) for k, v in counts.items()}


def _oov_rate(prof: dict[str, Any], texts: list[str]) -> float:
    vocab = prof["vocabulary"]
    total = oov = 0
    for text in texts[:20_000]:
        for word in tokenize(text):
            total += 1
            oov += word not in vocab
    return oov / total if total else 0.0


def _verdict(statistic: float, p: float | None, threshold: float, null_at: Any, bound_at: Any, alpha: float,
             m: int) -> tuple[bool, bool, float]:
    """(column drift, counts toward dataset drift, the threshold used).

    A distance drifts above ``max(threshold, null quantile)``. The quantile is
    simulated only when needed: not when the statistic is under the threshold,
    nor when a cheap upper bound of the quantile (``bound_at``) already settles it.
    """
    if p is not None:
        return p < alpha, p < alpha / m, alpha
    if statistic <= threshold:
        return False, False, threshold

    def effective(a: float) -> float:
        return threshold if bound_at(a) <= threshold else max(threshold, null_at(a))

    used = effective(alpha)
    dataset = statistic > bound_at(alpha / m) or statistic > effective(alpha / m)
    return statistic > used, dataset and statistic > used, used


def _numeric(ref: _Ref, cur: np.ndarray, method: str | None, alpha: float, m: int,
             limits: dict[str, float]) -> dict[str, Any]:
    prof = ref.prof
    n = int(prof["count"] - prof["missing"])
    method = method or ("ks" if n <= SMALL_REFERENCE else "wasserstein")
    q = np.asarray(prof["quantiles"], dtype=np.float64)
    base = {"method": method, "reference_rows": n, "current_rows": len(cur), "_present": len(cur)}
    hist = _numeric_histogram(ref, q, cur)
    if n == 0 or len(cur) == 0:
        return {**base, "statistic": None, "p_value": None, "threshold": None, "drift": False, "_dataset": False,
                "histogram": hist, "note": "no values to compare"}
    p: float | None = None
    null_at: Any = lambda _a: 0.0
    bound_at: Any = lambda _a: 0.0
    if method == "ks":
        stat, p = stats.ks_2samp(ref.raw, cur) if ref.raw is not None else stats.ks_from_quantiles(q, n, cur)
    elif method == "wasserstein":
        w = stats.wasserstein_sorted(ref.raw, cur) if ref.raw is not None else stats.wasserstein_from_quantiles(q, cur)
        std = prof["std"] or 0.0
        stat = w / std if std > 0 else (0.0 if w == 0 else float("inf"))
        if std > 0:
            null_at = lambda a: stats.wasserstein_null_quantile(q, n, len(cur), a) / std
            bound_at = lambda a: stats.wasserstein_null_bound(q, n, len(cur), a) / std
    else:
        edges = stats.decile_edges(q)
        if ref.raw is not None:
            ref_counts = stats.histogram_counts(ref.raw, edges).astype(float)
        else:
            cdf = stats.quantile_cdf(q, edges)
            ref_counts = np.diff(np.concatenate(([0.0], cdf, [1.0]))) * n
        ref_counts, cur_counts = stats.pool_sparse(ref_counts, stats.histogram_counts(cur, edges).astype(float))
        stat = stats.psi(ref_counts, cur_counts) if method == "psi" else stats.jensenshannon(ref_counts, cur_counts)
        null_at = lambda a: stats.null_quantile(method, ref_counts, cur_counts, a)
        bound_at = lambda a: stats.distance_null_bound(method, len(ref_counts), n, len(cur), a)
    if method == "chisquare":
        raise InvalidParameterValue("methods: chisquare needs a column with at most 5 distinct values; use ks.")
    drift, dataset, threshold = _verdict(stat, p, limits.get(method, alpha), null_at, bound_at, alpha, m)
    return {**base, "statistic": _round(stat), "p_value": None if p is None else float(p), "threshold": threshold,
            "drift": drift, "_dataset": dataset, "histogram": hist}


def _categorical(ref_counts: dict[str, int], other: int, cur_counts: dict[str, int], method: str | None,
                 alpha: float, m: int, limits: dict[str, float]) -> dict[str, Any]:
    n = sum(ref_counts.values()) + other
    present = sum(cur_counts.values())
    method = method or ("chisquare" if n <= SMALL_REFERENCE else "jensenshannon")
    if method in ("ks", "wasserstein"):
        raise InvalidParameterValue(f"methods: {method} needs a numeric column; use chisquare, jensenshannon or psi.")
    keys = list(ref_counts)
    unseen = [k for k in cur_counts if k not in ref_counts]
    ref_vec = [ref_counts[k] for k in keys]
    cur_vec = [cur_counts.get(k, 0) for k in keys]
    if other:  # the reference kept its top categories only: the rest share one bucket
        keys.append("(other)")
        ref_vec.append(other)
        cur_vec.append(sum(cur_counts[k] for k in unseen))
    else:
        keys += unseen
        ref_vec += [0] * len(unseen)
        cur_vec += [cur_counts[k] for k in unseen]
    r, c = np.asarray(ref_vec, dtype=float), np.asarray(cur_vec, dtype=float)
    base = {"method": method, "reference_rows": n, "current_rows": present, "_present": present,
            "unseen_categories": len(unseen) if not other else None, "histogram": _categorical_histogram(keys, r, c)}
    if n == 0 or present == 0:
        return {**base, "statistic": None, "p_value": None, "threshold": None, "drift": False, "_dataset": False,
                "note": "no values to compare"}
    p: float | None = None
    null_at: Any = lambda _a: 0.0
    bound_at: Any = lambda _a: 0.0
    if method == "chisquare":
        stat, p, _dof = stats.chisquare_2samp(r, c)
    else:
        pr, pc = stats.pool_sparse(r, c)
        stat = stats.psi(pr, pc) if method == "psi" else stats.jensenshannon(pr, pc)
        null_at = lambda a: stats.null_quantile(method, pr, pc, a)
        bound_at = lambda a: stats.distance_null_bound(method, len(pr), n, present, a)
    drift, dataset, threshold = _verdict(stat, p, limits.get(method, alpha), null_at, bound_at, alpha, m)
    return {**base, "statistic": _round(stat), "p_value": p, "threshold": threshold, "drift": drift, "_dataset": dataset}


def _round(x: float) -> float:
    return float(x) if np.isfinite(x) else float("inf")


def _numeric_histogram(ref: _Ref, q: np.ndarray, cur: np.ndarray) -> dict[str, Any]:
    """Shares of both samples in up to 20 equal-width bins over the reference's range (for plots)."""
    if not len(q):
        return {"edges": [], "reference": [], "current": []}
    lo, hi = float(q[0]), float(q[-1])
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)
    inner = edges[1:-1]
    if ref.raw is not None:
        r = stats.histogram_counts(ref.raw, inner) / max(len(ref.raw), 1)
    else:
        r = np.diff(np.concatenate(([0.0], stats.quantile_cdf(q, inner), [1.0])))
    c = stats.histogram_counts(cur, inner) / max(len(cur), 1)
    return {"edges": [round(float(e), 6) for e in edges], "reference": _shares(r), "current": _shares(c)}


def _categorical_histogram(keys: list[str], r: np.ndarray, c: np.ndarray) -> dict[str, Any]:
    order = np.argsort(-(r / max(r.sum(), 1) + c / max(c.sum(), 1)), kind="stable")[:HISTOGRAM_BINS]
    return {"labels": [keys[i][:60] for i in order], "reference": _shares(r[order] / max(r.sum(), 1)),
            "current": _shares(c[order] / max(c.sum(), 1))}


def _shares(x: np.ndarray) -> list[float]:
    return [round(float(v), 5) for v in x]

