"""Data quality against a reference profile: one check per concern, each with a verdict.

Checks (``threshold`` is what the value may reach before the verdict is ``fail``):

- ``missing_columns`` / ``new_columns``: columns of the reference absent now
  (fail), columns never seen (warn);
- ``duplicate_rows``: share of rows repeating an earlier row, above the
  reference's own share by more than ``duplicate_rows``;
- ``type``: share of values of a numeric column that are not numbers;
- ``missing_rate``: the share of missing values, above the reference's by more
  than ``missing_rate``;
- ``out_of_range``: share of numbers outside the reference's [min, max];
- ``unseen_categories``: share of values of a category never seen in the
  reference (not judged when the reference kept only its top categories).

Use :func:`check_quality` for a report, :func:`assert_quality` in a pipeline
step to fail it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidParameterValue, InvalidState
from .frames import as_columns
from .profile import check_profile, duplicate_rate

__all__ = ["DEFAULT_LIMITS", "DataQualityFailed", "assert_quality", "check_quality"]

DEFAULT_LIMITS = {"duplicate_rows": 0.05, "type": 0.0, "missing_rate": 0.05, "out_of_range": 0.01, "unseen_categories": 0.01}


class DataQualityFailed(InvalidState):
    """Data failed a quality check against its reference (the checks ride along in ``.report``)."""

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report


def check_quality(profile: dict[str, Any], current: Any, *, limits: dict[str, float] | None = None) -> dict[str, Any]:
    """Checks of ``current`` against a reference ``profile``: ``{"passed", "failed", "checks": [...]}``.

    >>> from modelyard.monitoring import profile as build
    >>> ref = build({"age": list(range(200))})
    >>> check_quality(ref, {"age": [10, 500]})["failed"]
    ['out_of_range:age']
    """
    prof = check_profile(profile)
    lim = {**DEFAULT_LIMITS, **_check_limits(limits or {})}
    cols = as_columns(current, "current")
    ref_cols = {c["name"]: c for c in prof["columns"]}
    checks: list[dict[str, Any]] = []

    def add(check: str, column: str | None, value: Any, threshold: Any, ok: bool, message: str, warn: bool = False) -> None:
        checks.append({"check": check, "column": column, "value": value, "threshold": threshold,
                       "verdict": "pass" if ok else ("warn" if warn else "fail"), "message": message})

    missing = sorted(set(ref_cols) - set(cols))
    add("missing_columns", None, missing, [], not missing,
        f"columns of the reference missing: {missing}" if missing else "every reference column is present")
    new = sorted(set(cols) - set(ref_cols))
    add("new_columns", None, new, [], not new, f"columns not in the reference: {new}" if new else "no new columns",
        warn=True)
    if cols:
        dup = duplicate_rate(cols)
        allowed = float(prof.get("duplicate_rate", 0.0)) + lim["duplicate_rows"]
        add("duplicate_rows", None, round(dup, 6), round(allowed, 6), dup <= allowed,
            f"{dup:.2%} of rows repeat an earlier row (reference {prof.get('duplicate_rate', 0.0):.2%})")
    for name, ref in ref_cols.items():
        if name in cols:
            _column_checks(name, ref, cols[name], lim, add)
    failed = [f"{c['check']}:{c['column']}" if c["column"] else c["check"] for c in checks if c["verdict"] == "fail"]
    return {"passed": not failed, "failed": failed, "rows": len(next(iter(cols.values()))) if cols else 0,
            "checks": checks}


def assert_quality(profile: dict[str, Any], current: Any, *, limits: dict[str, float] | None = None) -> dict[str, Any]:
    """:func:`check_quality`, raising :class:`DataQualityFailed` naming the failed checks."""
    report = check_quality(profile, current, limits=limits)
    if not report["passed"]:
        details = "; ".join(c["message"] for c in report["checks"] if c["verdict"] == "fail")
        raise DataQualityFailed(f"Data quality failed ({', '.join(report['failed'])}): {details}", report)
    return report


def _check_limits(limits: dict[str, float]) -> dict[str, float]:
    for key, value in limits.items():
        if key not in DEFAULT_LIMITS:
            raise InvalidParameterValue(f"limits: {key!r} is not a check; use {', '.join(DEFAULT_LIMITS)}.")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise InvalidParameterValue(f"limits[{key!r}]: {value!r}; give a share between 0 and 1.")
    return limits


def _column_checks(name: str, ref: dict[str, Any], col: np.ndarray, lim: dict[str, float], add: Any) -> None:
    n = len(col)
    if not n:
        return
    kind = ref["kind"]
    if col.dtype.kind == "f":
        missing = np.isnan(col)
    else:
        import pandas as pd

        missing = pd.isna(col)
    present = n - int(missing.sum())
    ref_rate = ref["missing"] / ref["count"] if ref["count"] else 0.0
    rate = 1 - present / n
    add("missing_rate", name, round(rate, 6), round(ref_rate + lim["missing_rate"], 6),
        rate <= ref_rate + lim["missing_rate"], f"{name}: {rate:.2%} missing (reference {ref_rate:.2%})")
    if kind == "numeric":
        if col.dtype.kind != "f":
            import pandas as pd

            values = pd.to_numeric(pd.Series(col[~missing], dtype=object), errors="coerce").to_numpy(dtype=np.float64)
            bad = float(np.isnan(values).mean()) if len(values) else 0.0
            add("type", name, round(bad, 6), lim["type"], bad <= lim["type"],
                f"{name}: {bad:.2%} of values are not numbers (the reference is numeric)")
            values = values[~np.isnan(values)]
        else:
            values = col[~missing]
        if ref.get("min") is not None and len(values):
            out = float(((values < ref["min"]) | (values > ref["max"])).mean())
            add("out_of_range", name, round(out, 6), lim["out_of_range"], out <= lim["out_of_range"],
                f"{name}: {out:.2%} of values outside the reference's range [{ref['min']:g}, {ref['max']:g}]")
    elif kind == "categorical" and not ref.get("other") and present:
        import pandas as pd

        known = ref["categories"]
        values = col[~missing]
        if values.dtype.kind == "f":
            values = values.astype(str)
        unseen = int((~pd.Series(values, dtype=object, copy=False).isin(list(known))).sum())
        share = unseen / present
        add("unseen_categories", name, round(share, 6), lim["unseen_categories"], share <= lim["unseen_categories"],
            f"{name}: {share:.2%} of values are categories the reference never had")
