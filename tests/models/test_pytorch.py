"""PyTorch: safetensors weights + importable class by default, TorchScript, pickle when asked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import modelyard.models as mm
from modelyard.errors import InvalidParameterValue, UntrustedModel
from modelyard.models.trust import serving_policy

from .marks import mlflow_warnings

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")
nn = torch.nn

pytestmark = mlflow_warnings


class MLP(nn.Module):
    def __init__(self, n_in: int, hidden: int = 8) -> None:
        super().__init__()
        self.n_in = n_in
        self.hidden = hidden
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, x):
        return self.net(x)


class Opaque(nn.Module):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.lin = nn.Linear(size, 1)

    def forward(self, x):
        return self.lin(x)


@pytest.fixture
def mlp():
    torch.manual_seed(0)
    return MLP(3, hidden=5).eval()


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)


def _expected(model, X):
    with torch.no_grad():
        return model(torch.from_numpy(X)).numpy()


def test_safetensors_round_trip(tmp_path, mlp, X):
    meta = mm.save_model(mlp, tmp_path / "m", input_example=X[:2])
    conf = meta.flavors["pytorch"]
    assert conf["model_format"] == "safetensors"
    assert conf["model_class"] == "tests.models.test_pytorch:MLP"
    assert (tmp_path / "m" / "data" / "model.safetensors").is_file()
    assert (tmp_path / "m" / "data" / "init_kwargs.json").read_text() == '{"n_in": 3, "hidden": 5}'
    assert not list((tmp_path / "m").rglob("*.pt*"))
    assert meta.signature.inputs.inputs[0].shape == (-1, 3)
    assert meta.signature.outputs.inputs[0].shape == (-1, 2)
    loaded = mm.load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X), _expected(mlp, X))
    np.testing.assert_array_equal(loaded.predict(pd.DataFrame(X)), _expected(mlp, X))
    np.testing.assert_array_equal(loaded.predict(X.astype(np.float64)), _expected(mlp, X))
    assert isinstance(loaded.unwrap_python_model(), MLP)
    reqs = (tmp_path / "m" / "requirements.txt").read_text()
    assert "torch==" in reqs and "safetensors==" in reqs


def test_constructor_kwargs_needed(tmp_path):
    with pytest.raises(InvalidParameterValue, match=r"constructor arguments \['size'\]"):
        mm.save_model(Opaque(4), tmp_path / "m")
    model = Opaque(4)
    mm.save_model(model, tmp_path / "ok", init_kwargs={"size": 4})
    x = np.ones((2, 4), dtype=np.float32)
    np.testing.assert_array_equal(mm.load_model(tmp_path / "ok").predict(x), _expected(model, x))


def test_torchscript(tmp_path, mlp, X):
    scripted = torch.jit.script(mlp)
    meta = mm.save_model(scripted, tmp_path / "m", input_example=X[:2])
    assert meta.flavors["pytorch"]["model_format"] == "torchscript"
    np.testing.assert_array_equal(mm.load_model(tmp_path / "m").predict(X), _expected(mlp, X))


def test_pickle_when_asked(tmp_path, mlp, X):
    with pytest.warns(mm.UnsafeSerializationWarning):
        mm.save_model(mlp, tmp_path / "m", serialization_format="pickle")
    with pytest.warns(mm.UnsafeSerializationWarning):
        loaded = mm.load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X), _expected(mlp, X))


def test_mlflow_loads_ours(tmp_path, mlp, X):
    import mlflow.pyfunc

    mm.save_model(mlp, tmp_path / "m", input_example=X[:2])
    np.testing.assert_array_equal(mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(X), _expected(mlp, X))


def test_we_load_mlflow_pytorch(tmp_path, mlp, X):
    import mlflow.pytorch

    mlflow.pytorch.save_model(mlp, str(tmp_path / "pt2"), input_example=X[:2], pip_requirements=["torch"])
    with pytest.raises(UntrustedModel, match="--allow-pickle"):  # what modelyard serve does by default
        mm.load_model(tmp_path / "pt2", trust=serving_policy(allow_pickle=False))
    with pytest.warns(mm.UnsafeSerializationWarning, match="pt2"):  # torch.export.load may unpickle
        loaded = mm.load_model(tmp_path / "pt2")
    np.testing.assert_allclose(loaded.predict(X), _expected(mlp, X), rtol=1e-6)
    mlflow.pytorch.save_model(mlp, str(tmp_path / "pkl"), serialization_format="pickle", pip_requirements=["torch"])
    with pytest.warns(mm.UnsafeSerializationWarning):
        loaded = mm.load_model(tmp_path / "pkl")
    np.testing.assert_array_equal(loaded.predict(X), _expected(mlp, X))


def test_a_crafted_model_class_is_refused_before_anything_is_called(tmp_path):
    import json

    import yaml

    import modelyard as my
    from modelyard.errors import ModelyardError

    marker = tmp_path / "PWNED"
    model_dir = tmp_path / "m"
    (model_dir / "data").mkdir(parents=True)
    (model_dir / "data" / "init_kwargs.json").write_text(json.dumps({"args": ["touch", str(marker)]}))
    mlmodel = {"flavors": {"pytorch": {"model_format": "safetensors", "model_class": "subprocess:run",
                                       "model_data": "data", "pytorch_version": "2.13.0"},
                           "python_function": {"loader_module": "modelyard.models.flavors.pytorch"}}}
    (model_dir / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with pytest.raises(ModelyardError, match="refusing to load"):
        my.models.load_model(str(model_dir))
    assert not marker.exists()
