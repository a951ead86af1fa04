"""Plain Python models: importable class + JSON/npz state by default, cloudpickle when asked."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import modelyard.models as mm
from modelyard.errors import InvalidParameterValue

from .marks import mlflow_warnings

pytestmark = mlflow_warnings


class Scaler:
    """A model with JSON and array state."""

    def __init__(self, factor: float, offsets: np.ndarray) -> None:
        self.factor = factor
        self.offsets = offsets
        self.name = "scaler"

    def predict(self, model_input):
        frame = pd.DataFrame(model_input)
        return frame.to_numpy() * self.factor + self.offsets


class WithParams:
    def predict(self, model_input, params=None):
        return [len(s) * (params or {}).get("times", 1) for s in model_input]


class Handle:
    """State that is not JSON: needs cloudpickle."""

    def __init__(self) -> None:
        self.fn = len

    def predict(self, model_input):
        return [self.fn(x) for x in model_input]


def test_round_trip_with_state(tmp_path):
    model = Scaler(2.0, np.array([1.0, -1.0]))
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    meta = mm.save_model(model, tmp_path / "m", input_example=df)
    conf = meta.flavors["python_class"]
    assert conf == {
        "class": "tests.models.test_python_model:Scaler", "serialization_format": "state",
        "state": ["state.json", "state.npz"],
    }
    assert meta.flavors["python_function"]["loader_module"] == "modelyard.models.flavors.python_model"
    assert json.loads((tmp_path / "m" / "state.json").read_text()) == {"factor": 2.0, "name": "scaler"}
    loaded = mm.load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(df), model.predict(df))
    native = loaded.unwrap_python_model()
    assert isinstance(native, Scaler) and native.offsets.tolist() == [1.0, -1.0]
    assert meta.signature.outputs.is_tensor_spec()


def test_params_and_lists(tmp_path):
    mm.save_model(WithParams(), tmp_path / "m", input_example=["ab", "c"])
    loaded = mm.load_model(tmp_path / "m")
    assert loaded.predict(["abc"]) == [3]
    assert loaded.predict(["abc"], params={"times": 2}) == [6]


def test_unpicklable_state_needs_cloudpickle(tmp_path):
    with pytest.raises(InvalidParameterValue, match=r"fn \(builtin_function_or_method\)"):
        mm.save_model(Handle(), tmp_path / "m")
    with pytest.warns(mm.UnsafeSerializationWarning, match="cloudpickle"):
        mm.save_model(Handle(), tmp_path / "p", serialization_format="cloudpickle")
    with pytest.warns(mm.UnsafeSerializationWarning):
        loaded = mm.load_model(tmp_path / "p")
    assert loaded.predict(["ab", "c"]) == [2, 1]


def test_class_must_be_importable(tmp_path):
    class Local:
        def predict(self, model_input):
            return model_input

    with pytest.raises(InvalidParameterValue, match="cannot be imported"):
        mm.save_model(Local(), tmp_path / "m")


def test_flavor_can_be_forced_and_unknown_rejected(tmp_path):
    with pytest.raises(InvalidParameterValue, match="Unknown flavor"):
        mm.save_model(WithParams(), tmp_path / "m", flavor="onnx")
    with pytest.raises(InvalidParameterValue, match="No flavor can save"):
        mm.save_model(object(), tmp_path / "n")


def test_mlflow_loads_ours(tmp_path):
    import mlflow.pyfunc

    model = Scaler(3.0, np.array([0.5, 0.5]))
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    mm.save_model(model, tmp_path / "m", input_example=df)
    np.testing.assert_array_equal(mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(df), model.predict(df))


def test_we_load_mlflow_python_model(tmp_path, monkeypatch):
    import mlflow.pyfunc

    lookup = tmp_path / "lookup.json"
    lookup.write_text(json.dumps({"bonus": 10}))

    class AddBonus(mlflow.pyfunc.PythonModel):
        def load_context(self, context):
            with open(context.artifacts["lookup"]) as fh:
                self.bonus = json.load(fh)["bonus"]

        def predict(self, context, model_input: pd.DataFrame, params=None):  # hinted: MLflow warns otherwise
            return model_input["a"] + self.bonus

    df = pd.DataFrame({"a": [1.0, 2.0]})
    mlflow.pyfunc.save_model(
        str(tmp_path / "m"), python_model=AddBonus(), artifacts={"lookup": str(lookup)},
        input_example=df, pip_requirements=["cloudpickle"],
    )
    with pytest.warns(mm.UnsafeSerializationWarning):
        loaded = mm.load_model(tmp_path / "m")
    assert loaded.predict(df).tolist() == [11.0, 12.0]
    assert loaded.predict({"a": 5.0}).tolist() == [15.0]
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    assert mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(df).tolist() == [11.0, 12.0]
