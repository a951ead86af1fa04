"""Signatures: inference, MLflow's JSON formats, enforcement with helpful errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modelyard.errors import InvalidParameterValue
from modelyard.models import (
    ColSpec,
    ModelSignature,
    Schema,
    SchemaError,
    TensorSpec,
    infer_schema,
    infer_signature,
)
from modelyard.models.enforce import enforce_schema


def test_infer_from_dataframe_and_series():
    df = pd.DataFrame({"x": [1.0, 2.0], "n": [1, 2], "s": ["a", "b"], "b": [True, False], "f": np.float32([1, 2])})
    schema = infer_schema(df)
    assert [(s.name, s.type) for s in schema] == [
        ("x", "double"), ("n", "long"), ("s", "string"), ("b", "boolean"), ("f", "float")
    ]
    sig = infer_signature(df, np.array([0, 1]))
    assert json.loads(sig.to_dict()["outputs"]) == [
        {"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}
    ]
    assert infer_schema(pd.Series([1.5], name="y")).inputs == (ColSpec("double", "y"),)


def test_infer_from_tensors_lists_dicts():
    assert infer_schema(np.zeros((3, 4), dtype=np.float32)).inputs == (TensorSpec("float32", (-1, 4)),)
    named = infer_schema({"a": np.zeros((2, 3)), "b": np.zeros(2, dtype=np.int64)})
    assert named.inputs == (TensorSpec("float64", (-1, 3), "a"), TensorSpec("int64", (-1,), "b"))
    assert infer_schema(["a", "b"]).inputs == (ColSpec("string"),)
    assert [s.type for s in infer_schema({"q": "hi", "k": 3})] == ["string", "long"]
    assert [s.name for s in infer_schema([{"a": 1}, {"a": 2}])] == ["a"]
    with pytest.raises(InvalidParameterValue, match="Mixed value types"):
        infer_schema([1, "a"])


def test_json_round_trip_matches_mlflow_format():
    from mlflow.models.signature import ModelSignature as MlflowSignature

    sig = ModelSignature(
        Schema((ColSpec("double", "a"), ColSpec("string", "s", required=False))),
        Schema((TensorSpec("float32", (-1, 2)),)),
    )
    d = sig.to_dict()
    assert json.loads(d["inputs"]) == [
        {"type": "double", "name": "a", "required": True},
        {"type": "string", "name": "s", "required": False},
    ]
    theirs = MlflowSignature.from_dict(d)
    assert theirs.to_dict() == d
    assert ModelSignature.from_dict(theirs.to_dict()) == sig


def test_reads_array_and_object_types_unchanged():
    text = json.dumps([{"type": "array", "items": {"type": "string"}, "name": "tags", "required": True}])
    schema = Schema.from_json(text)
    assert json.loads(schema.to_json()) == json.loads(text)


def test_enforce_named_columns_converts_and_reorders():
    schema = infer_schema(pd.DataFrame({"a": [1.0], "n": [1]}))
    out = enforce_schema(pd.DataFrame({"n": [2.0], "a": [3], "extra": ["x"]}), schema)
    assert list(out.columns) == ["a", "n"]
    assert out["a"].dtype == np.float64 and out["n"].dtype == np.int64
    assert enforce_schema({"a": 1.0, "n": 2}, schema).shape == (1, 2)
    assert list(enforce_schema([[1.0, 2]], schema).columns) == ["a", "n"]
    assert len(enforce_schema([{"a": 1.0, "n": 2}, {"a": 2.0, "n": 3}], schema)) == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (pd.DataFrame({"a": [1.0]}), r"missing inputs \['n'\]"),
        (pd.DataFrame({"a": ["x"], "n": [1]}), "column 'a': expected double"),
        (pd.DataFrame({"a": [1.0], "n": [1.5]}), "column 'n': expected long"),
        (np.zeros((2, 3)), "does not match the model's 2 named columns"),
    ],
)
def test_enforce_errors_name_the_column(data, message):
    schema = infer_schema(pd.DataFrame({"a": [1.0], "n": [1]}))
    with pytest.raises(SchemaError, match=message):
        enforce_schema(data, schema)


def test_enforce_tensors():
    schema = Schema((TensorSpec("float32", (-1, 2)),))
    out = enforce_schema([[1, 2], [3, 4]], schema)
    assert out.dtype == np.float32 and out.shape == (2, 2)
    with pytest.raises(SchemaError, match=r"expected shape \(-1, 2\)"):
        enforce_schema(np.zeros((2, 3)), schema)
    with pytest.raises(SchemaError, match="expected dtype float32"):
        enforce_schema(np.array([["a", "b"]]), schema)


def test_enforce_unnamed_strings():
    schema = Schema((ColSpec("string"),))
    assert enforce_schema(["a", "b"], schema) == ["a", "b"]
    with pytest.raises(SchemaError, match="expected string"):
        enforce_schema([1, 2], schema)
