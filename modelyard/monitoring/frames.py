"""Tables in, columns out: a DataFrame, a mapping of arrays or a CSV/Parquet file as named numpy columns.

Numeric columns become ``float64`` with NaN for missing values; everything else
an ``object`` array of strings with ``None`` for missing. Booleans count as
categories. pandas is used only when given a DataFrame or a file to read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidParameterValue

__all__ = ["Columns", "as_columns", "read_table"]

Columns = dict[str, np.ndarray]


def read_table(path: str | Path) -> Any:
    """A pandas DataFrame from a ``.csv`` or ``.parquet`` file (the suffix decides)."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise InvalidParameterValue(f"No file at {str(p)!r}: give a CSV or Parquet file.")
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(p)
    if suffix in (".csv", ".txt", ".gz"):
        return pd.read_csv(p)
    raise InvalidParameterValue(f"Cannot read {p.name!r}: the file name must end in .csv or .parquet.")


def as_columns(data: Any, what: str = "data") -> Columns:
    """Named columns of ``data`` (a DataFrame, a mapping of sequences, a path to a CSV/Parquet file)."""
    if isinstance(data, (str, Path)):
        data = read_table(data)
    if hasattr(data, "columns") and hasattr(data, "dtypes"):  # a pandas DataFrame
        return {str(name): _series(data[name], what, str(name)) for name in data.columns}
    if isinstance(data, Mapping):
        out: Columns = {}
        lengths = set()
        for name, values in data.items():
            col = _column(_array(values), what, str(name))
            out[str(name)] = col
            lengths.add(len(col))
        if len(lengths) > 1:
            raise InvalidParameterValue(f"{what}: columns have different lengths {sorted(lengths)}; give equal-length columns.")
        return out
    raise InvalidParameterValue(
        f"{what}: expected a pandas DataFrame, a mapping of column name to values, or a CSV/Parquet path;"
        f" got {type(data).__name__}."
    )


def _array(values: Any) -> np.ndarray:
    """``values`` as a 1-D array; nested or ragged values (lists in a cell) as objects, kept whole."""
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError):
        arr = None
    if arr is None or arr.ndim != 1:
        seq = list(values) if not isinstance(values, np.ndarray) or values.ndim else [values.item()]
        arr = np.empty(len(seq), dtype=object)
        arr[:] = [v if isinstance(v, (str, int, float, bool)) or v is None else str(v) for v in seq]
    return arr


def _column(values: np.ndarray, what: str, name: str) -> np.ndarray:
    if values.ndim != 1:
        raise InvalidParameterValue(f"{what}: column {name!r} has {values.ndim} dimensions; give one value per row.")
    kind = values.dtype.kind
    if kind in "iuf":
        return values.astype(np.float64, copy=False)
    if kind == "b":
        return _strings(values)
    if kind == "O":
        # Object columns that hold only numbers (and missing values) are numeric.
        try:
            as_float = values.astype(np.float64)
        except (TypeError, ValueError):
            return _strings(values)
        if not any(isinstance(v, (str, bool, np.bool_)) for v in values[:1000]):
            return as_float
    return _strings(values)


def _series(series: Any, what: str, name: str) -> np.ndarray:
    """One DataFrame column. Strings and categories (pandas' ``str``, Arrow or ``category`` dtypes) are
    factorized where they lie, never turned into one Python string per row first."""
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, np.dtype):
        return _column(series.to_numpy(), what, name)
    if pd.api.types.is_bool_dtype(dtype):
        return _strings(series)
    if pd.api.types.is_numeric_dtype(dtype):  # nullable Int64, Float64, Arrow numbers
        return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan))
    return _strings(series)


def _strings(values: Any) -> np.ndarray:
    """An ``object`` array of strings, ``None`` where missing: each distinct value made a string once.

    ``pd.factorize`` hashes the values (Arrow-backed strings without leaving
    Arrow); the result shares one string object per distinct value, so a
    million rows of a few categories cost a million pointers, not a million strings.
    """
    import pandas as pd

    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)  # missing (None, NaN, NA) -> -1
    except TypeError:  # unhashable cells (lists): each one's text
        series = pd.Series(values, dtype=object, copy=False)
        missing = series.isna().to_numpy()
        out = series.astype(str).to_numpy(dtype=object)
        out[missing] = None
        return out  # type: ignore[no-any-return]
    labels = np.empty(len(uniques) + 1, dtype=object)
    labels[:-1] = [u if isinstance(u, str) else str(u) for u in uniques]
    labels[-1] = None
    return labels[codes]  # type: ignore[no-any-return]  # code -1 picks the None at the end


def is_numeric(col: np.ndarray) -> bool:
    return col.dtype.kind == "f"
