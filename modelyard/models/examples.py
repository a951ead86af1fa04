"""Input examples as MLflow 3 writes them: ``input_example.json`` and ``serving_input_example.json``."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidParameterValue
from .signature import Schema

EXAMPLE_FILE = "input_example.json"
SERVING_FILE = "serving_input_example.json"


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, (pd.Timestamp,)):
            return o.isoformat()
        if isinstance(o, bytes):
            import base64

            return base64.b64encode(o).decode("ascii")
        return super().default(o)


def _nan_to_none(values: Any) -> Any:
    if isinstance(values, list):
        return [_nan_to_none(v) for v in values]
    if isinstance(values, float) and math.isnan(values):
        return None
    return values


def save_example(example: Any, model_dir: str) -> dict[str, Any]:
    """Write the example files; return the ``saved_input_example_info`` for ``MLmodel``."""
    info: dict[str, Any] = {"artifact_path": EXAMPLE_FILE}
    if isinstance(example, pd.Series):
        example = example.to_frame()
    if isinstance(example, pd.DataFrame):
        body: Any = {
            "columns": [str(c) for c in example.columns],
            "data": _nan_to_none(example.astype(object).where(example.notna(), None).values.tolist()),
        }
        serving: Any = {"dataframe_split": body}
        info.update(type="dataframe", pandas_orient="split")
    elif isinstance(example, np.ndarray):
        body = _nan_to_none(example.tolist())
        serving = {"inputs": body}
        info["type"] = "ndarray"
    elif isinstance(example, dict) and example and all(isinstance(v, np.ndarray) for v in example.values()):
        body = {k: _nan_to_none(v.tolist()) for k, v in example.items()}
        serving = {"inputs": body}
        info["type"] = "ndarray"
    elif isinstance(example, (dict, list, str, int, float, bool)):
        body = example
        serving = {"inputs": example}
        info["type"] = "json_object"
    else:
        raise InvalidParameterValue(
            f"Unsupported input example type {type(example).__name__}: "
            "use a DataFrame, ndarray, dict of ndarrays, dict, list or scalar."
        )
    with open(os.path.join(model_dir, EXAMPLE_FILE), "w", encoding="utf-8") as fh:
        json.dump(body, fh, cls=_Encoder)
    with open(os.path.join(model_dir, SERVING_FILE), "w", encoding="utf-8") as fh:
        json.dump(serving, fh, cls=_Encoder, indent=2)
    info["serving_input_path"] = SERVING_FILE
    return info


def load_example(model_dir: str, info: dict[str, Any] | None, schema: Schema | None = None) -> Any:
    """The saved example read back in the form the model scores, or None."""
    if not info:
        return None
    with open(os.path.join(model_dir, info.get("artifact_path", EXAMPLE_FILE)), encoding="utf-8") as fh:
        body = json.load(fh)
    if info.get("params"):  # MLflow stores {"data": ..., "params": ...} when the example has params
        body = body["data"]
    kind = info.get("type")
    if kind == "dataframe":
        if info.get("pandas_orient", "split") == "split":
            return pd.DataFrame(body["data"], columns=body.get("columns"))
        return pd.DataFrame(body)
    if kind == "ndarray":
        dtypes = {}
        if schema is not None and schema.is_tensor_spec():
            dtypes = {s.name: s.dtype for s in schema}  # type: ignore[union-attr]
        if isinstance(body, dict):
            return {k: np.asarray(v, dtype=dtypes.get(k)) for k, v in body.items()}
        return np.asarray(body, dtype=dtypes.get(None))
    return body
