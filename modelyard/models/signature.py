"""Model signatures in MLflow's JSON formats: column specs and tensor specs.

>>> sig = infer_signature(pd.DataFrame({"x": [1.0]}), np.array([0]))
>>> sig.to_dict()["inputs"]
'[{"type": "double", "name": "x", "required": true}]'
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidParameterValue

# MLflow's DataType names for scalar columns, and the numpy dtype each stands for.
COLUMN_TYPES: dict[str, Any] = {
    "boolean": np.dtype("bool"),
    "integer": np.dtype("int32"),
    "long": np.dtype("int64"),
    "float": np.dtype("float32"),
    "double": np.dtype("float64"),
    "string": np.dtype("object"),
    "binary": np.dtype("object"),
    "datetime": np.dtype("datetime64[ns]"),
}


@dataclass(frozen=True)
class ColSpec:
    """One column: a type (``double``, ``string``… or a raw MLflow dict for arrays/objects), a name."""

    type: str | dict[str, Any]
    name: str | None = None
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.type) if isinstance(self.type, dict) else {"type": self.type}
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out


@dataclass(frozen=True)
class TensorSpec:
    """One tensor: a numpy dtype and a shape where ``-1`` is any size."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "tensor", "tensor-spec": {"dtype": self.dtype, "shape": list(self.shape)}}
        if self.name is not None:
            out["name"] = self.name
        return out


Spec = ColSpec | TensorSpec


@dataclass(frozen=True)
class Schema:
    """An ordered list of specs, all column specs or all tensor specs."""

    inputs: tuple[Spec, ...]

    def __post_init__(self) -> None:
        kinds = {type(s) for s in self.inputs}
        if len(kinds) > 1:
            raise InvalidParameterValue("A schema mixes column specs and tensor specs.")

    def __iter__(self) -> Iterator[Spec]:
        return iter(self.inputs)

    def __len__(self) -> int:
        return len(self.inputs)

    def is_tensor_spec(self) -> bool:
        return bool(self.inputs) and isinstance(self.inputs[0], TensorSpec)

    def has_names(self) -> bool:
        return bool(self.inputs) and all(s.name is not None for s in self.inputs)

    def names(self) -> list[str]:
        return [s.name for s in self.inputs if s.name is not None]

    def to_json(self) -> str:
        return json.dumps([s.to_dict() for s in self.inputs])

    @classmethod
    def from_json(cls, text: str) -> Schema:
        specs: list[Spec] = []
        for d in json.loads(text):
            if d.get("type") == "tensor":
                ts = d["tensor-spec"]
                specs.append(TensorSpec(str(ts["dtype"]), tuple(ts["shape"]), d.get("name")))
            else:
                kind = d["type"] if d["type"] in COLUMN_TYPES else {k: v for k, v in d.items() if k not in ("name", "required")}
                specs.append(ColSpec(kind, d.get("name"), bool(d.get("required", True))))
        return cls(tuple(specs))


@dataclass(frozen=True)
class ModelSignature:
    """What a model takes and returns; stored in ``MLmodel`` as JSON strings."""

    inputs: Schema | None = None
    outputs: Schema | None = None
    params: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs.to_json() if self.inputs is not None else None,
            "outputs": self.outputs.to_json() if self.outputs is not None else None,
            "params": json.dumps(self.params) if self.params is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSignature:
        params = data.get("params")
        return cls(
            Schema.from_json(data["inputs"]) if data.get("inputs") else None,
            Schema.from_json(data["outputs"]) if data.get("outputs") else None,
            json.loads(params) if isinstance(params, str) else params,
        )


def infer_signature(model_input: Any, model_output: Any = None) -> ModelSignature:
    """Signature from example data: ``infer_signature(X_train, model.predict(X_train))``."""
    return ModelSignature(
        infer_schema(model_input),
        infer_schema(model_output) if model_output is not None else None,
    )


def infer_schema(data: Any) -> Schema:
    """The schema MLflow infers for a DataFrame, Series, ndarray, dict, list or scalar."""
    data = _to_numpy_if_tensor(data)
    if isinstance(data, pd.DataFrame):
        return Schema(tuple(
            ColSpec(_series_type(data[c], str(c)), str(c), not bool(data[c].isna().any())) for c in data.columns
        ))
    if isinstance(data, pd.Series):
        return Schema((ColSpec(_series_type(data, str(data.name)), None if data.name is None else str(data.name)),))
    if isinstance(data, np.ndarray):
        return Schema((_tensor_spec(data, None),))
    if isinstance(data, dict):
        if not all(isinstance(k, str) for k in data):
            raise InvalidParameterValue("The keys of a dict input must all be strings.")
        if data and all(isinstance(v, np.ndarray) for v in data.values()):
            return Schema(tuple(_tensor_spec(v, k) for k, v in data.items()))
        return Schema(tuple(ColSpec(_value_type(v, k), k, v is not None) for k, v in data.items()))
    if isinstance(data, list):
        if not data:
            return Schema((ColSpec("string"),))
        if all(isinstance(v, dict) for v in data):
            return infer_schema(pd.DataFrame(data))
        return Schema((ColSpec(_value_type(data, None)),))
    if np.isscalar(data) or isinstance(data, dt.datetime):
        return Schema((ColSpec(_value_type(data, None)),))
    raise InvalidParameterValue(
        f"Cannot infer a schema from {type(data).__name__}: use a DataFrame, Series, ndarray, dict, list or scalar."
    )


def _to_numpy_if_tensor(data: Any) -> Any:
    if type(data).__module__.startswith("torch") and hasattr(data, "detach"):
        return data.detach().cpu().numpy()
    return data


def _tensor_spec(arr: np.ndarray, name: str | None) -> TensorSpec:
    if arr.dtype == object:
        raise InvalidParameterValue(f"Tensor {name or ''} has dtype object: give a numeric or string dtype.".replace("  ", " "))
    return TensorSpec(str(arr.dtype), (-1, *arr.shape[1:]), name)


def dtype_to_column_type(dtype: np.dtype) -> str | None:
    kind = dtype.kind
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "long" if dtype.itemsize >= 8 or (kind == "u" and dtype.itemsize >= 4) else "integer"
    if kind == "f":
        return "float" if dtype.itemsize <= 4 else "double"
    if kind == "M":
        return "datetime"
    if kind in "US":
        return "string" if kind == "U" else "binary"
    return None


def _series_type(series: pd.Series, name: str) -> str:
    found = dtype_to_column_type(np.dtype(series.dtype)) if not isinstance(series.dtype, pd.StringDtype) else "string"
    if found is not None:
        return found
    return _value_type(series.dropna().tolist(), name)


def _value_type(value: Any, name: str | None) -> str:
    values = value if isinstance(value, (list, tuple)) else [value]
    kinds = set()
    for v in values:
        if v is None:
            continue
        if isinstance(v, (bool, np.bool_)):
            kinds.add("boolean")
        elif isinstance(v, (int, np.integer)):
            kinds.add("long")
        elif isinstance(v, (float, np.floating)):
            kinds.add("double")
        elif isinstance(v, str):
            kinds.add("string")
        elif isinstance(v, bytes):
            kinds.add("binary")
        elif isinstance(v, (dt.datetime, np.datetime64, pd.Timestamp)):
            kinds.add("datetime")
        else:
            where = f" of column {name!r}" if name else ""
            raise InvalidParameterValue(f"Cannot infer a column type{where} from a {type(v).__name__} value.")
    if kinds == {"long", "double"}:
        return "double"
    if len(kinds) > 1:
        where = f"column {name!r}" if name else "the input"
        raise InvalidParameterValue(f"Mixed value types in {where}: {sorted(kinds)}.")
    return kinds.pop() if kinds else "string"
