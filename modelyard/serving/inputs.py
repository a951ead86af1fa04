"""Prediction inputs read from every accepted payload shape and checked against the model's signature.

One :class:`InputReader` per loaded model turns MLflow scoring payloads
(``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs``, CSV),
Open Inference Protocol tensors and batch-file frames into :class:`Inputs`.
When every input column is a required ``double``/``float`` (or the model takes
one tensor) the rows go straight into one numpy matrix without pandas; other
signatures go through :func:`modelyard.models.enforce.enforce_schema`. Every
mismatch is a :class:`~modelyard.models.SchemaError` (HTTP 400) naming the field.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from ..errors import MalformedRequest
from ..models.enforce import SchemaError, enforce_schema
from ..models.signature import ColSpec, ModelSignature, TensorSpec

MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_FLOATS = ("double", "float")
_decode = msgspec.json.decode


@dataclass(slots=True)
class Inputs:
    """Checked model input: ``kind`` is ``matrix`` (2-D float64, signature column order), ``frame``,
    ``tensor`` (one array), ``tensors`` (a dict) or ``raw`` (no signature)."""

    kind: str
    data: Any
    rows: int


class InputReader:
    """Reads payloads for one model signature (built once per loaded model)."""

    def __init__(self, signature: ModelSignature | None) -> None:
        schema = signature.inputs if signature is not None else None
        self.schema = schema if schema is not None and len(schema) else None
        specs = list(self.schema) if self.schema is not None else []
        self.tensor: TensorSpec | None = None
        self.names: list[str] = []
        if specs and isinstance(specs[0], TensorSpec):
            self.tensor = specs[0] if len(specs) == 1 else None
            self.tensor_names = [s.name for s in specs]
        elif self.schema is not None and self.schema.has_names():
            self.names = self.schema.names()
        self.fast = bool(self.names) and all(
            isinstance(s, ColSpec) and s.type in _FLOATS and s.required for s in specs
        )
        self.specs = specs
        # The one tensor's checks, compiled: an array of exactly its dtype and shape needs no conversion.
        self._dtype = np.dtype(self.tensor.dtype) if self.tensor is not None else None
        self._fixed = [(i, n) for i, n in enumerate(self.tensor.shape) if n != -1] if self.tensor is not None else []

    # ---- MLflow scoring protocol ---------------------------------------------------

    def read_mlflow(self, body: bytes, content_type: str) -> tuple[Inputs, dict[str, Any] | None]:
        """``POST /invocations``: JSON with exactly one of :data:`MLFLOW_KEYS` (plus ``params``), or CSV."""
        if content_type.startswith("text/csv"):
            try:
                frame = pd.read_csv(io.BytesIO(body))
            except Exception as exc:  # noqa: BLE001 - any parser failure is the caller's CSV
                raise MalformedRequest(f"Cannot read the CSV body: {exc}") from None
            return self.from_frame(frame), None
        try:
            obj = _decode(body)
        except msgspec.DecodeError as exc:
            raise MalformedRequest(f"Malformed JSON in request body: {exc}.") from None
        if not isinstance(obj, dict):
            raise SchemaError(f"Expected a JSON object with one of {list(MLFLOW_KEYS)}, got {type(obj).__name__}.")
        keys = [k for k in MLFLOW_KEYS if k in obj]
        if len(keys) != 1:
            unknown = sorted(set(obj) - {"params"})
            raise SchemaError(
                f"Expected exactly one of {list(MLFLOW_KEYS)} in the request, got {keys or unknown}."
            )
        params = obj.get("params")
        if params is not None and not isinstance(params, dict):
            raise SchemaError(f"'params' must be an object, got {type(params).__name__}.")
        key = keys[0]
        value = obj[key]
        if key == "dataframe_split":
            return self.from_split(value), params
        if key == "dataframe_records":
            return self.from_records(value, key), params
        return self.from_instances(value, key), params

    def from_split(self, value: Any) -> Inputs:
        if not isinstance(value, dict) or not isinstance(value.get("data"), list):
            raise SchemaError("'dataframe_split' must be an object with 'data' (a list of rows) and 'columns'.")
        columns, data = value.get("columns"), value["data"]
        if columns is not None and (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)):
            raise SchemaError("'dataframe_split.columns' must be a list of column names.")
        if self.fast:
            if columns is None or columns == self.names:
                return self._matrix(data, self.names, "dataframe_split.data")
            missing = [n for n in self.names if n not in columns]
            if missing:
                raise SchemaError(f"Missing columns {missing} in 'dataframe_split.columns'; expected {self.names}.")
            full = self._matrix(data, columns, "dataframe_split.data", check_types=False)
            picked = full.data[:, [columns.index(n) for n in self.names]] if full.kind == "matrix" else full.data
            return self._finish_numeric(np.asarray(picked), data, columns, "dataframe_split.data")
        if self.tensor is not None:
            return self._tensor(data, "dataframe_split.data")
        try:
            frame = pd.DataFrame(data, columns=columns)
        except (ValueError, TypeError) as exc:
            raise SchemaError(f"Cannot read 'dataframe_split' as a table: {exc}") from None
        return self.from_frame(frame)

    def from_records(self, records: Any, where: str) -> Inputs:
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise SchemaError(f"'{where}' must be a list of objects keyed by column name.")
        if self.fast:
            names = self.names
            try:
                rows = [[r[n] for n in names] for r in records]
            except KeyError:
                for i, r in enumerate(records):
                    missing = [n for n in names if n not in r]
                    if missing:
                        raise SchemaError(f"'{where}[{i}]' is missing columns {missing}.") from None
                raise
            return self._matrix(rows, names, where)
        return self.from_frame(pd.DataFrame(records))

    def from_instances(self, value: Any, where: str) -> Inputs:
        """TF-serving style ``instances`` / ``inputs``: rows, records, columns, or tensors."""
        if self.tensor is not None:
            return self._tensor(value, where)
        if self.schema is not None and self.schema.is_tensor_spec():
            if not isinstance(value, dict):
                raise SchemaError(f"'{where}' must be an object of named tensors {self.tensor_names}.")
            arrays = {k: np.asarray(v) for k, v in value.items()}
            return Inputs("tensors", enforce_schema(arrays, self.schema), _rows(next(iter(arrays.values()), [])))
        if self.names:
            if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
                return self.from_records(value, where)
            if isinstance(value, dict):
                return self._columns(value, where)
            if isinstance(value, list):
                if self.fast:
                    return self._matrix(value, self.names, where)
                try:
                    return self.from_frame(pd.DataFrame(value, columns=self.names))
                except (ValueError, TypeError) as exc:
                    raise SchemaError(f"'{where}': rows must each have the columns {self.names}: {exc}") from None
            raise SchemaError(f"'{where}' must be a list of rows, a list of records or an object of columns.")
        if self.schema is not None:
            return Inputs("frame", enforce_schema(value, self.schema), _rows(value))
        return Inputs("raw", np.asarray(value) if isinstance(value, list) else value, _rows(value))

    def _columns(self, value: dict[str, Any], where: str) -> Inputs:
        missing = [n for n in self.names if n not in value]
        if missing and self.fast:
            raise SchemaError(f"'{where}' is missing columns {missing}; expected {self.names}.")
        if all(not isinstance(v, list) for v in value.values()):
            value = {k: [v] for k, v in value.items()}  # one row given as scalars
        lengths = {k: len(v) for k, v in value.items() if isinstance(v, list)}
        if len(set(lengths.values())) > 1:
            raise SchemaError(f"'{where}': columns have different lengths {lengths}.")
        if self.fast:
            rows = [list(r) for r in zip(*(value[n] for n in self.names))]
            return self._matrix(rows, self.names, where)
        return self.from_frame(pd.DataFrame(value))

    # ---- frames (CSV, batch files, general signatures) -----------------------------

    def from_frame(self, frame: pd.DataFrame) -> Inputs:
        if self.fast:
            present = {str(c) for c in frame.columns}
            missing = [n for n in self.names if n not in present]
            if missing:
                raise SchemaError(f"Missing columns {missing}; expected {self.names}, got {sorted(present)}.")
            frame = frame.rename(columns=str)
            for name in self.names:
                kind = frame[name].dtype.kind
                if kind not in "iuf":
                    sample = frame[name].dropna().tolist()[:1]
                    got = type(sample[0]).__name__ if sample else str(frame[name].dtype)
                    raise SchemaError(f"column {name!r}: expected double, got {got}"
                                      + (f" (e.g. {sample[0]!r})." if sample else "."))
            return Inputs("matrix", frame[self.names].to_numpy(np.float64), len(frame))
        if self.tensor is not None:
            return self._tensor(frame.to_numpy(), "input")
        if self.schema is None:
            return Inputs("raw", frame, len(frame))
        return Inputs("frame", enforce_schema(frame, self.schema), len(frame))

    # ---- numeric fast path ---------------------------------------------------------

    def _matrix(self, rows: Any, columns: list[str], where: str, check_types: bool = True) -> Inputs:
        if not isinstance(rows, list):
            raise SchemaError(f"'{where}' must be a list of rows.")
        try:
            arr = np.asarray(rows)
        except ValueError:
            arr = np.empty((0,))
        if arr.ndim != 2 or arr.shape[1] != len(columns):
            for i, row in enumerate(rows):
                if not isinstance(row, list) or len(row) != len(columns):
                    got = f"{len(row)} values" if isinstance(row, list) else f"a {type(row).__name__}"
                    raise SchemaError(f"'{where}[{i}]' has {got}; expected {len(columns)} values for columns {columns}.")
            raise SchemaError(f"'{where}' must be a list of rows of {len(columns)} values (columns {columns}).")
        if not check_types:
            return Inputs("matrix", arr, arr.shape[0])
        return self._finish_numeric(arr, rows, columns, where)

    def _finish_numeric(self, arr: np.ndarray, rows: list[Any], columns: list[str], where: str) -> Inputs:
        if arr.dtype.kind in "fiu":
            return Inputs("matrix", arr.astype(np.float64, copy=False), arr.shape[0])
        wanted = set(self.names)
        for j, name in enumerate(columns):
            if name not in wanted:
                continue
            for i, row in enumerate(rows):
                v = row[j]
                if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)):
                    continue
                raise SchemaError(
                    f"column {name!r}: expected double, got {type(v).__name__} {v!r} (in '{where}[{i}]')."
                )
        out = np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=object)
        idx = [columns.index(n) for n in self.names]
        return Inputs("matrix", out[:, idx].astype(np.float64), len(rows))

    def _tensor(self, value: Any, where: str) -> Inputs:
        assert self.tensor is not None
        try:
            arr = np.asarray(value)
        except ValueError as exc:
            raise SchemaError(f"'{where}': not a rectangular array: {exc}") from None
        if arr.dtype.kind in "OUS" and np.dtype(self.tensor.dtype).kind not in "OUS":
            raise SchemaError(f"'{where}': expected numbers of dtype {self.tensor.dtype}, got {arr.dtype}.")
        shape = self.tensor.shape
        if arr.ndim == len(shape) - 1 and arr.ndim >= 1:
            arr = arr[None, ...]  # one example without the batch axis
        if arr.dtype == self._dtype and arr.ndim == len(shape) and all(arr.shape[i] == n for i, n in self._fixed):
            return Inputs("tensor", arr, arr.shape[0] if arr.ndim else 1)
        data = enforce_schema(arr, self.schema)
        return Inputs("tensor", data, data.shape[0] if data.ndim else 1)

    # ---- descriptions (OpenAPI, the try-it page) -----------------------------------

    def columns(self) -> list[tuple[str, str]]:
        """(name, type) of every named input column."""
        return [(s.name, s.type if isinstance(s.type, str) else "object") for s in self.specs
                if isinstance(s, ColSpec) and s.name is not None]


def _rows(value: Any) -> int:
    if isinstance(value, dict):
        first = next(iter(value.values()), None)
        return len(first) if isinstance(first, (list, np.ndarray)) else 1
    return len(value) if isinstance(value, (list, np.ndarray, pd.DataFrame)) else 1
