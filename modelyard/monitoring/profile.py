"""Reference profiles: what later checks need to know of the training data, without the data.

Per column, by kind:

- ``numeric``: count, missing, min, max, mean, std, and the values at
  ``QUANTILES + 1`` evenly spaced ranks (exact order statistics of the whole
  reference, so a statistic computed from them is off by at most ``1/QUANTILES``
  in rank: see :func:`modelyard.monitoring.stats.ks_from_quantiles`); when the
  column has at most ``MAX_EXACT_VALUES`` distinct values their exact counts too;
- ``categorical``: the counts of the ``MAX_CATEGORIES`` most frequent values and
  one ``other`` count for the rest;
- ``text``: numeric profiles of the length in characters and in tokens, and the
  counts of the ``MAX_VOCABULARY`` most frequent lower-cased tokens; with
  ``embeddings`` (opt-in), an ``embedding`` sample of its texts
  (:mod:`modelyard.monitoring.embeddings`).

A profile is a plain JSON-able dict (``format`` 1) stored with the model version.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..errors import InvalidParameterValue
from .frames import Columns, as_columns

__all__ = [
    "MAX_CATEGORIES", "MAX_EXACT_VALUES", "MAX_VOCABULARY", "MIN_REFERENCE_ROWS", "QUANTILES", "embeddings_enabled",
    "infer_kind",
    "profile", "profile_column", "sorted_profile", "tokenize",
]

QUANTILES = 1000
MAX_EXACT_VALUES = 100
MAX_CATEGORIES = 500
MAX_VOCABULARY = 5000
MIN_REFERENCE_ROWS = 100
KINDS = ("numeric", "categorical", "text")
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def infer_kind(col: np.ndarray) -> str:
    """``numeric`` for numbers; ``text`` for strings averaging 5+ words that rarely repeat; else ``categorical``."""
    if col.dtype.kind == "f":
        return "numeric"
    sample = [v for v in col[:2000] if v is not None]
    if not sample:
        return "categorical"
    words = sum(v.count(" ") + 1 for v in sample) / len(sample)
    distinct = len(set(sample)) / len(sample)
    return "text" if words >= 5 and distinct > 0.5 else "categorical"


def profile(
    data: Any,
    *,
    kinds: dict[str, str] | None = None,
    min_rows: int = MIN_REFERENCE_ROWS,
    columns: Columns | None = None,
    embeddings: bool | None = None,
) -> dict[str, Any]:
    """The reference profile of ``data`` (DataFrame, mapping of columns or CSV/Parquet path).

    ``kinds`` overrides the inferred kind of named columns (``numeric``,
    ``categorical``, ``text``). Refuses fewer than ``min_rows`` rows.
    ``embeddings`` keeps a sample of each text column's sentence embeddings
    for embedding drift (default: the setting ``MODELYARD_MONITORING_TEXT_EMBEDDINGS``).

    >>> p = profile({"age": list(range(200)), "plan": ["a", "b"] * 100})
    >>> [c["kind"] for c in p["columns"]]
    ['numeric', 'categorical']
    """
    cols = columns if columns is not None else as_columns(data, "reference")
    rows = len(next(iter(cols.values()))) if cols else 0
    if not cols:
        raise InvalidParameterValue("reference: no columns; give the training data as a table with named columns.")
    if rows < min_rows:
        raise InvalidParameterValue(
            f"reference: {rows} rows is too few to judge drift by; give at least {min_rows} rows of training data"
            " (not just the input example)."
        )
    kinds = _check_kinds(kinds or {}, cols)
    embed = embeddings_enabled(embeddings)
    return {
        "format": 1,
        "rows": rows,
        "quantiles": QUANTILES,
        "duplicate_rate": duplicate_rate(cols),
        "columns": [profile_column(name, col, kinds.get(name) or infer_kind(col), embed) for name, col in cols.items()],
    }


def _check_kinds(kinds: dict[str, str], cols: Columns) -> dict[str, str]:
    for name, kind in kinds.items():
        if name not in cols:
            raise InvalidParameterValue(f"kinds: no column named {name!r} in the reference; known: {sorted(cols)[:20]}.")
        if kind not in KINDS:
            raise InvalidParameterValue(f"kinds[{name!r}]: {kind!r} is not a kind; use one of {', '.join(KINDS)}.")
        if kind == "numeric" and cols[name].dtype.kind != "f":
            raise InvalidParameterValue(f"kinds[{name!r}]: the column holds non-numbers; it cannot be numeric.")
    return kinds


def embeddings_enabled(embeddings: bool | None) -> bool:
    """``embeddings`` if given, else the setting ``MODELYARD_MONITORING_TEXT_EMBEDDINGS``."""
    if embeddings is not None:
        return bool(embeddings)
    from ..settings import Settings

    return bool(Settings.from_env().monitoring_text_embeddings)


def profile_column(name: str, col: np.ndarray, kind: str, embeddings: bool = False) -> dict[str, Any]:
    if kind == "numeric":
        return {"name": name, "kind": kind, **numeric_profile(col)}
    values = col.astype(str) if col.dtype.kind == "f" else col
    if kind == "text":
        out = {"name": name, "kind": kind, **text_profile(values)}
        if embeddings:
            from .embeddings import reference_sample

            out["embedding"] = reference_sample([v for v in values if v is not None])
        return out
    return {"name": name, "kind": kind, **categorical_profile(values)}


def numeric_profile(col: np.ndarray) -> dict[str, Any]:
    return sorted_profile(np.sort(col[~np.isnan(col)]), len(col))


def sorted_profile(finite: np.ndarray, count: int) -> dict[str, Any]:
    """The numeric profile of ``count`` values whose non-missing ones are ``finite``, sorted."""
    out: dict[str, Any] = {"count": count, "missing": count - len(finite)}
    if not len(finite):
        return {**out, "min": None, "max": None, "mean": None, "std": None, "quantiles": []}
    out.update(min=float(finite[0]), max=float(finite[-1]), mean=float(finite.mean()), std=float(finite.std()))
    # The inverted CDF at ranks k/Q: the value at index ceil(k*n/Q) - 1 (integer arithmetic, no float rounding).
    n = len(finite)
    ranks = np.arange(QUANTILES + 1, dtype=np.int64)
    idx = np.clip((ranks * n + QUANTILES - 1) // QUANTILES - 1, 0, n - 1)
    out["quantiles"] = finite[idx].tolist()
    # Few distinct values: their exact counts (a sorted array's value changes).
    changes = np.flatnonzero(finite[1:] != finite[:-1])
    if len(changes) < MAX_EXACT_VALUES:
        starts = np.concatenate(([0], changes + 1))
        counts = np.diff(np.concatenate((starts, [len(finite)])))
        out["values"] = finite[starts].tolist()
        out["counts"] = counts.tolist()
    return out


def categorical_profile(col: np.ndarray) -> dict[str, Any]:
    import pandas as pd

    counts = pd.Series(col, dtype=object, copy=False).value_counts(dropna=True)
    present = int(counts.sum())
    top = counts.iloc[:MAX_CATEGORIES]
    return {
        "count": len(col), "missing": len(col) - present, "distinct": len(counts),
        "categories": {str(k): int(v) for k, v in top.items()},
        "other": present - int(top.sum()),
    }


def text_profile(col: np.ndarray) -> dict[str, Any]:
    from collections import Counter

    present = [v for v in col if v is not None]
    vocab: Counter[str] = Counter()
    tokens = np.empty(len(present))
    for i, text in enumerate(present):
        words = tokenize(text)
        tokens[i] = len(words)
        vocab.update(words)
    lengths = np.fromiter((len(t) for t in present), dtype=np.float64, count=len(present))
    top = dict(vocab.most_common(MAX_VOCABULARY))
    total = int(tokens.sum())
    return {
        "count": len(col), "missing": len(col) - len(present),
        "length": numeric_profile(lengths), "tokens": numeric_profile(tokens),
        "vocabulary": top, "vocabulary_size": len(vocab), "token_total": total, "other_tokens": total - sum(top.values()),
    }


def duplicate_rate(cols: Columns) -> float:
    """The share of rows equal to an earlier row (all columns compared)."""
    import pandas as pd

    frame = pd.DataFrame(cols, copy=False)
    if not len(frame):
        return 0.0
    return float(frame.duplicated().mean())


def column_map(prof: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in prof["columns"]}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _numbers(values: Any) -> np.ndarray | None:
    """``values`` as a float array when it is a list of numbers (not booleans), else None."""
    if not isinstance(values, list):
        return None
    if not values:
        return np.empty(0)
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError):
        return None
    if arr.ndim != 1 or arr.dtype.kind not in "iuf":
        return None
    return arr.astype(np.float64)


def _check_numeric(c: dict[str, Any], where: str) -> None:
    if not (_is_int(c.get("count")) and _is_int(c.get("missing")) and c["missing"] <= c["count"]):
        raise InvalidParameterValue(f"{where}: needs count and missing, whole numbers with missing <= count.")
    q = c.get("quantiles")
    arr = _numbers(q)
    if arr is None or len(arr) == 1 or np.isnan(arr).any() or (np.diff(arr) < 0).any():
        raise InvalidParameterValue(f"{where}.quantiles: give a sorted list of numbers (none, or 2 or more).")
    if q and not all(_is_num(c.get(k)) for k in ("min", "max", "mean", "std")):
        raise InvalidParameterValue(f"{where}: needs min, max, mean and std numbers.")
    if "values" in c or "counts" in c:
        values, counts = c.get("values"), c.get("counts")
        nums, cnts = _numbers(values), _numbers(counts)
        if nums is None or cnts is None or len(nums) != len(cnts) or (cnts < 0).any() or \
                (cnts != np.round(cnts)).any():
            raise InvalidParameterValue(f"{where}: values and counts must be lists of the same length.")


def check_profile(prof: Any) -> dict[str, Any]:
    """A stored or given profile, checked so that every later computation can trust its shape."""
    if not isinstance(prof, dict) or prof.get("format") != 1 or not isinstance(prof.get("columns"), list):
        raise InvalidParameterValue("profile: not a reference profile (format 1); build one with my.monitoring.profile(df).")
    if not _is_int(prof.get("rows")):
        raise InvalidParameterValue("profile.rows: give the number of rows profiled.")
    seen = set()
    for i, c in enumerate(prof["columns"]):
        where = f"profile.columns[{i}]"
        if not isinstance(c, dict) or c.get("kind") not in KINDS or not isinstance(c.get("name"), str):
            raise InvalidParameterValue(f"{where}: needs a name and a kind ({', '.join(KINDS)}).")
        if c["name"] in seen:
            raise InvalidParameterValue(f"{where}: column {c['name']!r} appears twice.")
        seen.add(c["name"])
        if c["kind"] == "numeric":
            _check_numeric(c, where)
        elif c["kind"] == "categorical":
            cats = c.get("categories")
            if not (_is_int(c.get("count")) and _is_int(c.get("missing")) and _is_int(c.get("other", 0))
                    and isinstance(cats, dict) and all(isinstance(k, str) and _is_int(v) for k, v in cats.items())):
                raise InvalidParameterValue(f"{where}: needs count, missing, other and categories {{value: count}}.")
        else:
            vocab = c.get("vocabulary")
            if not (_is_int(c.get("count")) and _is_int(c.get("missing")) and _is_int(c.get("token_total"))
                    and _is_int(c.get("other_tokens")) and isinstance(vocab, dict)
                    and all(isinstance(k, str) and _is_int(v) for k, v in vocab.items())
                    and isinstance(c.get("length"), dict) and isinstance(c.get("tokens"), dict)):
                raise InvalidParameterValue(f"{where}: needs count, missing, length, tokens, vocabulary, token_total"
                                            " and other_tokens.")
            _check_numeric(c["length"], f"{where}.length")
            _check_numeric(c["tokens"], f"{where}.tokens")
            if "embedding" in c:
                from .embeddings import decode

                decode(c["embedding"], f"{where}.embedding")
    return prof
