"""scikit-learn: skops by default, pickle when asked, MLflow reads ours and we read MLflow's."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelyard.models as mm
from modelyard.errors import InvalidParameterValue, ResourceAlreadyExists, UntrustedModel

from .marks import mlflow_warnings

pytest.importorskip("skops")

pytestmark = mlflow_warnings


@pytest.fixture
def clf(frame, labels):
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(frame, labels)


def test_save_load_identical_predictions(tmp_path, clf, frame):
    meta = mm.save_model(clf, tmp_path / "m", input_example=frame.head(3))
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == sorted([
        "MLmodel", "model.skops", "requirements.txt", "python_env.yaml", "conda.yaml",
        "input_example.json", "serving_input_example.json",
    ])
    conf = meta.flavors["sklearn"]
    assert conf["serialization_format"] == "skops" and conf["pickled_model"] == "model.skops"
    assert meta.flavors["python_function"]["loader_module"] == "mlflow.sklearn"
    assert [s.name for s in meta.signature.inputs] == ["radius", "count"]
    assert json.loads(meta.signature.to_dict()["outputs"]) == [{"type": "long", "required": True}]
    reqs = (tmp_path / "m" / "requirements.txt").read_text().split()
    assert any(r.startswith("scikit-learn==") for r in reqs) and any(r.startswith("skops==") for r in reqs)

    loaded = mm.load_model(str(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict(frame), clf.predict(frame))
    np.testing.assert_array_equal(loaded.predict(frame.to_dict("list")), clf.predict(frame))
    assert loaded.predict({"radius": 4.0, "count": 1}).tolist() == clf.predict(frame.iloc[[3]].assign(radius=4.0)).tolist()
    assert type(loaded.unwrap_python_model()).__name__ == "Pipeline"
    pd.testing.assert_frame_equal(loaded.input_example, frame.head(3).reset_index(drop=True))
    assert loaded.metadata.flavors["sklearn"]["sklearn_version"]


def test_predict_enforces_signature(tmp_path, clf, frame):
    mm.save_model(clf, tmp_path / "m", input_example=frame)
    loaded = mm.load_model(tmp_path / "m")
    with pytest.raises(mm.SchemaError, match=r"missing inputs \['count'\]"):
        loaded.predict(frame[["radius"]])
    with pytest.raises(mm.SchemaError, match="column 'radius': expected double"):
        loaded.predict(frame.assign(radius="big"))
    # columns in another order and ints for doubles are fine
    np.testing.assert_array_equal(loaded.predict(frame[["count", "radius"]]), clf.predict(frame))


def test_pickle_only_when_asked_and_warned(tmp_path, clf, frame):
    with pytest.warns(mm.UnsafeSerializationWarning, match="pickle"):
        meta = mm.save_model(clf, tmp_path / "m", serialization_format="pickle")
    assert meta.flavors["sklearn"]["pickled_model"] == "model.pkl"
    assert meta.signature is None
    with pytest.warns(mm.UnsafeSerializationWarning):
        loaded = mm.load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(frame), clf.predict(frame))
    with pytest.raises(InvalidParameterValue, match="serialization_format"):
        mm.save_model(clf, tmp_path / "x", serialization_format="joblib")


def test_refuses_non_empty_target(tmp_path, clf):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "f").write_text("x")
    with pytest.raises(ResourceAlreadyExists):
        mm.save_model(clf, tmp_path / "m")


def test_untrusted_skops_types_are_not_taken_from_the_model(tmp_path, frame, labels):
    """A model cannot whitelist its own types: whoever loads it decides."""
    from sklearn.preprocessing import FunctionTransformer

    clf = make_pipeline(FunctionTransformer(func=abs), LogisticRegression()).fit(frame, labels)
    with pytest.raises(InvalidParameterValue, match=r"\['builtins.abs'\]"):
        mm.save_model(clf, tmp_path / "refused")
    meta = mm.save_model(clf, tmp_path / "m", skops_trusted_types=["builtins.abs"])
    assert meta.flavors["sklearn"]["skops_trusted_types"] == ["builtins.abs"]
    with pytest.raises(UntrustedModel, match=r"not trusted here: \['builtins.abs'\].*skops_trusted_types"):
        mm.load_model(tmp_path / "m")
    loaded = mm.load_model(tmp_path / "m", skops_trusted_types=["builtins.abs"])
    np.testing.assert_array_equal(loaded.predict(frame), clf.predict(frame))


def test_mlflow_loads_ours(tmp_path, clf, frame, allow_mlflow_pickle):
    import mlflow.pyfunc
    import mlflow.sklearn

    mm.save_model(clf, tmp_path / "m", input_example=frame.head(2))
    theirs = mlflow.pyfunc.load_model(str(tmp_path / "m"))
    np.testing.assert_array_equal(theirs.predict(frame), clf.predict(frame))
    native = mlflow.sklearn.load_model(str(tmp_path / "m"))
    np.testing.assert_array_equal(native.predict(frame), clf.predict(frame))


@pytest.mark.parametrize("fmt", ["skops", "cloudpickle"])
def test_we_load_mlflows(tmp_path, clf, frame, fmt):
    import mlflow.sklearn

    mlflow.sklearn.save_model(
        clf, str(tmp_path / "m"), serialization_format=fmt, input_example=frame.head(2),
        pip_requirements=["scikit-learn"],
    )
    if fmt == "skops":
        loaded = mm.load_model(tmp_path / "m")
    else:
        with pytest.warns(mm.UnsafeSerializationWarning):
            loaded = mm.load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(frame), clf.predict(frame))
    assert loaded.metadata.mlflow_version
    assert [s.name for s in loaded.signature.inputs] == ["radius", "count"]
    with pytest.raises(mm.SchemaError, match="radius"):
        loaded.predict(frame[["count"]])


def test_tensor_signature_from_ndarray(tmp_path, frame, labels):
    X = frame.to_numpy()
    clf = LogisticRegression().fit(X, labels)
    meta = mm.save_model(clf, tmp_path / "m", input_example=X[:2])
    assert meta.signature.inputs.is_tensor_spec()
    loaded = mm.load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X.tolist()), clf.predict(X))
    with pytest.raises(mm.SchemaError, match="expected shape"):
        loaded.predict(X[:, :1])


def test_a_forest_saves_and_loads_without_options_and_mlflow_reads_its_declared_types(
        tmp_path, frame, labels, allow_mlflow_pickle):
    """scikit-learn's compiled Tree is trusted by default; the MLmodel declares it, so MLflow loads it too."""
    import mlflow.sklearn
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=4, random_state=0).fit(frame, labels)
    meta = mm.save_model(forest, tmp_path / "m")
    assert meta.flavors["sklearn"]["skops_trusted_types"] == ["sklearn.tree._tree.Tree"]
    np.testing.assert_array_equal(mm.load_model(tmp_path / "m").predict(frame), forest.predict(frame))
    np.testing.assert_array_equal(mlflow.sklearn.load_model(str(tmp_path / "m")).predict(frame), forest.predict(frame))
