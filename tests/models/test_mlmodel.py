"""The MLmodel file, the environment files and the input example files, as MLflow writes them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from modelyard.errors import ResourceDoesNotExist
from modelyard.models import Model, infer_signature
from modelyard.models.environment import read_requirements, write_environment
from modelyard.models.examples import load_example, save_example


def test_mlmodel_round_trip_keeps_unknown_keys(tmp_path):
    meta = Model(run_id="r1", artifact_path="model", signature=infer_signature(pd.DataFrame({"a": [1.0]})))
    meta.add_flavor("python_function", loader_module="mlflow.sklearn")
    meta.extra["prompts"] = None
    meta.save(str(tmp_path))
    raw = yaml.safe_load((tmp_path / "MLmodel").read_text())
    assert raw["flavors"]["python_function"]["loader_module"] == "mlflow.sklearn"
    assert raw["signature"]["inputs"] == '[{"type": "double", "name": "a", "required": true}]'
    assert len(raw["model_uuid"]) == 32 and raw["utc_time_created"]
    back = Model.load(str(tmp_path))
    assert back == meta


def test_mlflow_reads_our_mlmodel(tmp_path):
    from mlflow.models import Model as MlflowModel

    meta = Model(signature=infer_signature(np.zeros((2, 3))))
    meta.add_flavor("python_function", loader_module="x")
    meta.save(str(tmp_path))
    theirs = MlflowModel.load(str(tmp_path))
    assert theirs.model_uuid == meta.model_uuid
    assert theirs.signature.to_dict() == meta.signature.to_dict()


def test_missing_mlmodel(tmp_path):
    with pytest.raises(ResourceDoesNotExist, match="MLmodel"):
        Model.load(str(tmp_path))


def test_environment_files_are_pinned(tmp_path):
    reqs = write_environment(str(tmp_path), ["numpy", "pandas", "numpy"], ["extra-thing>=1"])
    assert reqs[0].startswith("numpy==") and reqs[1].startswith("pandas==") and reqs[2] == "extra-thing>=1"
    assert read_requirements(str(tmp_path)) == reqs
    env = yaml.safe_load((tmp_path / "python_env.yaml").read_text())
    assert env["dependencies"] == ["-r requirements.txt"] and env["python"].count(".") == 2
    conda = yaml.safe_load((tmp_path / "conda.yaml").read_text())
    assert conda["dependencies"][-1] == {"pip": reqs} and conda["name"] == "mlflow-env"


def test_dataframe_example_files(tmp_path):
    df = pd.DataFrame({"a": [1.0, np.nan], "s": ["x", "y"]})
    info = save_example(df, str(tmp_path))
    assert info == {
        "artifact_path": "input_example.json", "type": "dataframe", "pandas_orient": "split",
        "serving_input_path": "serving_input_example.json",
    }
    assert json.loads((tmp_path / "input_example.json").read_text()) == {
        "columns": ["a", "s"], "data": [[1.0, "x"], [None, "y"]]
    }
    serving = json.loads((tmp_path / "serving_input_example.json").read_text())
    assert serving["dataframe_split"]["columns"] == ["a", "s"]
    back = load_example(str(tmp_path), info)
    pd.testing.assert_frame_equal(back, df)


@pytest.mark.parametrize(
    ("example", "kind", "serving"),
    [
        (np.arange(4.0).reshape(2, 2), "ndarray", {"inputs": [[0.0, 1.0], [2.0, 3.0]]}),
        ({"t": np.arange(2)}, "ndarray", {"inputs": {"t": [0, 1]}}),
        (["good", "bad"], "json_object", {"inputs": ["good", "bad"]}),
        ({"q": "hi"}, "json_object", {"inputs": {"q": "hi"}}),
    ],
)
def test_other_example_kinds(tmp_path, example, kind, serving):
    info = save_example(example, str(tmp_path))
    assert info["type"] == kind
    assert json.loads((tmp_path / "serving_input_example.json").read_text()) == serving
    back = load_example(str(tmp_path), info)
    if isinstance(example, np.ndarray):
        np.testing.assert_array_equal(back, example)
    elif isinstance(example, dict) and kind == "ndarray":
        np.testing.assert_array_equal(back["t"], example["t"])
    else:
        assert back == example
