"""log_model into a run, load by runs:/ and models:/ URIs, and the MLflow run tag."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import modelyard as my
import modelyard.models as mm
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist

from .conftest import needs_registry
from .marks import mlflow_warnings

pytest.importorskip("skops")


@pytest.fixture
def clf(frame, labels):
    return LogisticRegression().fit(frame, labels)


def test_log_model_in_active_run(tracking, clf, frame):
    with my.start_run() as run:
        info = mm.log_model(clf, "model", input_example=frame.head(2))
    run_id = run.info.run_id
    assert info.model_uri == f"runs:/{run_id}/model" and info.run_id == run_id and info.artifact_path == "model"
    names = {f.path for f in my.Client().list_artifacts(run_id, "model")}
    assert {"model/MLmodel", "model/model.skops", "model/requirements.txt", "model/input_example.json"} <= names
    history = json.loads(my.get_run(run_id).data.tags["mlflow.log-model.history"])
    assert history == [{
        "run_id": run_id, "artifact_path": "model", "utc_time_created": info.utc_time_created,
        "model_uuid": info.model_uuid, "flavors": info.flavors,
    }]
    loaded = mm.load_model(info.model_uri)
    assert loaded.metadata.run_id == run_id and loaded.run_id == run_id
    assert loaded.metadata.artifact_path == "model"
    np.testing.assert_array_equal(loaded.predict(frame), clf.predict(frame))


def test_history_appends_and_run_id_argument(tracking, clf, frame, tmp_path):
    run = my.Client().create_run("0")
    run_id = run.info.run_id
    mm.log_model(clf, "first", run_id=run_id)
    mm.log_model(clf, "nested/second", run_id=run_id)
    history = json.loads(my.get_run(run_id).data.tags["mlflow.log-model.history"])
    assert [h["artifact_path"] for h in history] == ["first", "nested/second"]
    loaded = mm.load_model(f"runs:/{run_id}/nested/second", dst_path=str(tmp_path / "dl"))
    assert loaded.path.startswith(str(tmp_path / "dl"))
    np.testing.assert_array_equal(loaded.predict(frame), clf.predict(frame))


def test_log_model_starts_a_run_when_none_is_active(tracking, clf):
    info = mm.log_model(clf, "model")
    assert my.active_run() is not None and my.active_run().info.run_id == info.run_id


def test_bad_names_and_uris(tracking, clf, tmp_path):
    with pytest.raises(InvalidParameterValue, match="Invalid model name"):
        mm.log_model(clf, "../escape")
    with pytest.raises(ResourceDoesNotExist):
        mm.load_model(tmp_path / "nowhere")
    with pytest.raises(InvalidParameterValue, match="Malformed runs URI"):
        mm.load_model("runs:/")


def test_file_uri_and_path(clf, frame, tmp_path):
    mm.save_model(clf, tmp_path / "m")
    for uri in (f"file://{tmp_path / 'm'}", str(tmp_path / "m"), tmp_path / "m"):
        np.testing.assert_array_equal(mm.load_model(uri).predict(frame), clf.predict(frame))


def test_unsupported_flavor_is_named(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: mlflow.xgboost\n")
    with pytest.raises(my.ModelyardError, match="mlflow.xgboost"):
        mm.load_model(tmp_path / "m")


@needs_registry
def test_registered_model_name_and_models_uris(tracking, clf, frame):
    with my.start_run() as run:
        info = mm.log_model(clf, "model", registered_model_name="churn")
        mm.log_model(clf, "again", registered_model_name="churn")
    assert info.registered_model_version == 1
    client = my.Client()
    mv = client.get_model_version("churn", "1")
    assert mv.source == f"runs:/{run.info.run_id}/model" and mv.run_id == run.info.run_id
    expected = clf.predict(frame)
    np.testing.assert_array_equal(mm.load_model("models:/churn/1").predict(frame), expected)
    np.testing.assert_array_equal(mm.load_model("models:/churn/latest").predict(frame), expected)
    client.set_registered_model_alias("churn", "champion", "2")
    champion = mm.load_model("models:/churn@champion")
    assert champion.metadata.artifact_path == "again"
    np.testing.assert_array_equal(champion.predict(frame), expected)


@pytest.fixture
def served(sqlite_live_server):
    my.set_tracking_uri(sqlite_live_server.url)
    yield sqlite_live_server.url
    while my.active_run():
        my.end_run()
    my.set_tracking_uri(None)


def test_log_and_load_through_a_server(served, clf, frame):
    with my.start_run() as run:
        info = mm.log_model(clf, "model", input_example=frame.head(2))
    loaded = mm.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_array_equal(loaded.predict(frame), clf.predict(frame))
    assert json.loads(my.get_run(run.info.run_id).data.tags["mlflow.log-model.history"])[0]["model_uuid"] == info.model_uuid


@needs_registry
@mlflow_warnings[0]
def test_registry_through_a_server_and_mlflow_loads_it(served, clf, frame, monkeypatch):
    import mlflow

    with my.start_run() as run:
        mm.log_model(clf, "model", registered_model_name="churn")
    my.Client().set_registered_model_alias("churn", "champion", "1")
    expected = clf.predict(frame)
    np.testing.assert_array_equal(mm.load_model("models:/churn@champion").predict(frame), expected)
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    mlflow.set_tracking_uri(served)
    try:
        for uri in (f"runs:/{run.info.run_id}/model", "models:/churn@champion", "models:/churn/1"):
            np.testing.assert_array_equal(mlflow.pyfunc.load_model(uri).predict(frame), expected)
    finally:
        mlflow.set_tracking_uri(None)


@needs_registry
@mlflow_warnings[0]
@mlflow_warnings[1]
def test_we_load_what_mlflow_logged_to_our_server(served, clf, frame):
    """MLflow 3's log_model (a logged model, source models:/m-...) then ours loads it by alias."""
    import mlflow
    import mlflow.sklearn

    mlflow.set_tracking_uri(served)
    try:
        with mlflow.start_run():
            mlflow.sklearn.log_model(
                clf, name="model", input_example=frame.head(2), registered_model_name="X",
                pip_requirements=["scikit-learn"],
            )
    finally:
        mlflow.set_tracking_uri(None)
    my.Client().set_registered_model_alias("X", "champion", "1")
    for uri in ("models:/X@champion", "models:/X/1"):
        np.testing.assert_array_equal(mm.load_model(uri).predict(frame), clf.predict(frame))
