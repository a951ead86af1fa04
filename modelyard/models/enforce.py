"""Check and convert prediction inputs against a model's input schema.

Errors name the column (or tensor) at fault and say what was expected, so a
caller sees ``column 'age': expected long, got float64 with fractions``
rather than a stack trace from deep inside the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidParameterValue
from .signature import COLUMN_TYPES, ColSpec, Schema, TensorSpec, _to_numpy_if_tensor


class SchemaError(InvalidParameterValue):
    """The input does not match the model's signature."""


def enforce_schema(data: Any, schema: Schema | None) -> Any:
    """``data`` converted to what the schema declares, or a :class:`SchemaError`."""
    data = _to_numpy_if_tensor(data)
    if schema is None or not len(schema):
        return data
    if schema.is_tensor_spec():
        return _enforce_tensors(data, schema)
    if schema.has_names():
        return _enforce_named_columns(_as_frame(data, schema.names()), schema)
    return _enforce_unnamed_columns(data, schema)


# ---- columns --------------------------------------------------------------------

def _as_frame(data: Any, names: list[str]) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame() if data.name is not None else pd.DataFrame({names[0]: data})
    if isinstance(data, dict):
        if all(np.isscalar(v) or v is None for v in data.values()):
            return pd.DataFrame([data])
        return pd.DataFrame({k: np.asarray(v).tolist() if isinstance(v, np.ndarray) else v for k, v in data.items()})
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return pd.DataFrame(data)
    if isinstance(data, (list, np.ndarray)):
        arr = np.asarray(data, dtype=object if isinstance(data, list) else None)
        if arr.ndim == 1 and len(names) == 1:
            arr = arr.reshape(-1, 1)
        if arr.ndim != 2 or arr.shape[1] != len(names):
            raise SchemaError(
                f"Input of shape {arr.shape} does not match the model's {len(names)} named columns {names}: "
                "pass a DataFrame or a dict keyed by column name."
            )
        frame = pd.DataFrame(arr, columns=names)
        return frame.infer_objects() if isinstance(data, list) else frame
    raise SchemaError(f"Cannot read a {type(data).__name__} as the columns {names}.")


def _enforce_named_columns(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    specs = [s for s in schema if isinstance(s, ColSpec)]
    present = {str(c) for c in frame.columns}
    missing = [s.name for s in specs if s.required and s.name not in present]
    if missing:
        raise SchemaError(
            f"Model is missing inputs {missing}. Expected columns {[s.name for s in specs]}, got {sorted(present)}."
        )
    frame = frame.rename(columns=str)
    out = {}
    for spec in specs:
        assert spec.name is not None
        if spec.name in present:
            out[spec.name] = convert_column(frame[spec.name], spec)
    return pd.DataFrame(out, index=frame.index)


def _enforce_unnamed_columns(data: Any, schema: Schema) -> Any:
    specs = [s for s in schema if isinstance(s, ColSpec)]
    if len(specs) == 1:
        spec = specs[0]
        if isinstance(data, pd.DataFrame):
            if data.shape[1] != 1:
                raise SchemaError(f"Model takes one {_name(spec.type)} column, got {data.shape[1]} columns.")
            out = data.copy()
            out[out.columns[0]] = convert_column(data.iloc[:, 0], spec)
            return out
        if isinstance(data, pd.Series):
            return convert_column(data, spec)
        values = [data] if np.isscalar(data) else list(np.asarray(data).ravel()) if isinstance(data, np.ndarray) else data
        if not isinstance(values, list):
            raise SchemaError(f"Model takes {_name(spec.type)} values, got a {type(data).__name__}.")
        convert_column(pd.Series(values, dtype=object), spec)
        return data
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(np.asarray(data))
    if frame.shape[1] != len(specs):
        raise SchemaError(f"Model takes {len(specs)} columns, got {frame.shape[1]}.")
    return pd.DataFrame({col: convert_column(frame[col], spec) for col, spec in zip(frame.columns, specs)})


def convert_column(col: pd.Series, spec: ColSpec) -> pd.Series:
    """One column converted to the spec's type, or an error naming it."""
    if isinstance(spec.type, dict):
        return col  # arrays and objects: passed through as given
    label = f"column {spec.name!r}" if spec.name else "input"
    if col.isna().any() and spec.required and spec.type not in ("double", "float"):
        raise SchemaError(f"{label}: missing values in a required {spec.type} column.")
    kind = spec.type
    dtype = col.dtype
    np_kind = getattr(dtype, "kind", "O")
    try:
        if kind in ("double", "float"):
            if np_kind in "iuf":
                return col.astype(COLUMN_TYPES[kind])
            if np_kind == "O" and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in col.dropna()):
                return col.astype(COLUMN_TYPES[kind])
        elif kind in ("long", "integer"):
            if np_kind in "iu":
                return col.astype(COLUMN_TYPES[kind])
            if np_kind == "f" and not col.isna().any() and bool((col == np.floor(col)).all()):
                return col.astype(COLUMN_TYPES[kind])
            if np_kind == "O" and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in col):
                return col.astype(COLUMN_TYPES[kind])
        elif kind == "boolean":
            if np_kind == "b" or (np_kind == "O" and all(isinstance(v, (bool, np.bool_)) for v in col.dropna())):
                return col.astype(bool) if not col.isna().any() else col
        elif kind == "string":
            if all(isinstance(v, str) for v in col.dropna()):
                return col.astype(object)
        elif kind == "binary":
            if all(isinstance(v, (bytes, bytearray)) for v in col.dropna()):
                return col
        elif kind == "datetime":
            return pd.to_datetime(col)
    except (TypeError, ValueError, OverflowError) as exc:
        raise SchemaError(f"{label}: cannot convert {dtype} to {kind}: {exc}") from None
    sample = next((v for v in col.dropna().tolist()[:1]), None)
    raise SchemaError(f"{label}: expected {kind}, got {dtype}" + (f" (e.g. {sample!r})." if sample is not None else "."))


def _name(kind: Any) -> str:
    return kind if isinstance(kind, str) else str(kind.get("type", "object"))


# ---- tensors --------------------------------------------------------------------

def _enforce_tensors(data: Any, schema: Schema) -> Any:
    specs = [s for s in schema if isinstance(s, TensorSpec)]
    if len(specs) == 1 and not isinstance(data, dict):
        arr = data.to_numpy() if isinstance(data, (pd.DataFrame, pd.Series)) else np.asarray(data)
        return _tensor(arr, specs[0])
    if isinstance(data, pd.DataFrame):
        data = {str(c): data[c].to_numpy() for c in data.columns}
    if not isinstance(data, dict):
        raise SchemaError(f"Model takes named tensors {[s.name for s in specs]}: pass a dict of arrays.")
    missing = [s.name for s in specs if s.name not in data]
    if missing:
        raise SchemaError(f"Model is missing input tensors {missing}.")
    return {s.name: _tensor(np.asarray(data[s.name]), s) for s in specs if s.name is not None}


def _tensor(arr: np.ndarray, spec: TensorSpec) -> np.ndarray:
    label = f"tensor {spec.name!r}" if spec.name else "input tensor"
    want = np.dtype(spec.dtype)
    if arr.dtype != want:
        ok = np.can_cast(arr.dtype, want, "same_kind") or (arr.dtype.kind in "iub" and want.kind in "iuf")
        if not ok:
            raise SchemaError(f"{label}: expected dtype {want}, got {arr.dtype}.")
        arr = arr.astype(want)
    shape = tuple(spec.shape)
    if arr.ndim != len(shape) or any(w != -1 and w != g for w, g in zip(shape, arr.shape)):
        raise SchemaError(f"{label}: expected shape {shape} (-1 = any), got {arr.shape}.")
    return arr
