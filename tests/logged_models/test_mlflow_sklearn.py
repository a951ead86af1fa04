"""``mlflow.sklearn.log_model`` against our server, loaded back by ``models:/<id>`` and ``runs:/<id>/model``."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import reset_fluent_state, unique


@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    return X, LogisticRegression(max_iter=500).fit(X, y)


@pytest.fixture(scope="module")
def logged(server, _mlflow_env, iris):
    """A run with a param and a metric, and the model logged in it (once per server: logging takes seconds)."""
    import mlflow

    X, model = iris
    mlflow.set_tracking_uri(server.url)
    try:
        mlflow.set_experiment(unique("sk"))
        with mlflow.start_run() as run:
            mlflow.log_param("C", model.C)
            mlflow.log_metric("accuracy", model.score(X, model.predict(X)))
            info = mlflow.sklearn.log_model(model, name="model", input_example=X[:5])
    finally:
        reset_fluent_state()
        mlflow.set_tracking_uri(None)
    return run, info


def test_log_and_load_by_model_id_and_run(client, iris, logged):
    import mlflow
    from mlflow.entities import LoggedModelStatus

    X, model = iris
    run, info = logged
    expected = model.predict(X)
    by_id = mlflow.pyfunc.load_model(f"models:/{info.model_id}")
    np.testing.assert_array_equal(by_id.predict(X), expected)
    by_run = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_array_equal(by_run.predict(X), expected)
    native = mlflow.sklearn.load_model(f"models:/{info.model_id}")
    np.testing.assert_array_equal(native.predict_proba(X), model.predict_proba(X))

    lm = client.get_logged_model(info.model_id)
    assert lm.status == LoggedModelStatus.READY and lm.name == "model"
    assert lm.source_run_id == run.info.run_id and lm.experiment_id == run.info.experiment_id
    assert lm.params["C"] == str(model.C)  # the run's params are copied onto the model
    assert "mlflow.source.name" in lm.tags


def test_run_outputs_and_linked_metrics(client, logged):
    run, info = logged
    outputs = client.get_run(run.info.run_id).outputs.model_outputs
    assert [(o.model_id, o.step) for o in outputs] == [(info.model_id, 0)]
    metrics = client.get_logged_model(info.model_id).metrics
    assert [(m.key, m.run_id, m.model_id) for m in metrics] == [("accuracy", run.info.run_id, info.model_id)]
    assert metrics[0].value == client.get_run(run.info.run_id).data.metrics["accuracy"]
    found = client.search_logged_models([run.info.experiment_id], "metrics.accuracy > 0.9")
    assert [m.model_id for m in found] == [info.model_id]


def test_model_artifacts(client, logged, http):
    run, info = logged
    listed = {f.path for f in client.list_logged_model_artifacts(info.model_id)}
    assert {"MLmodel", "requirements.txt", "python_env.yaml", "input_example.json"} <= listed
    # Listing a run's "model" folder shows the model's files, as MLflow 3 does.
    assert "model/MLmodel" in {f.path for f in client.list_artifacts(run.info.run_id, "model")}

    base = f"/ajax-api/2.0/mlflow/logged-models/{info.model_id}/artifacts"
    page = http.get(f"{base}/directories").json()
    assert page["root_uri"].endswith(f"/models/{info.model_id}/artifacts")
    assert {f["path"] for f in page["files"]} == listed
    mlmodel = http.get(f"{base}/files", params={"artifact_file_path": "MLmodel"})
    assert mlmodel.status_code == 200 and f"model_id: {info.model_id}" in mlmodel.text
    assert http.get(f"{base}/files").status_code == 400
    assert http.get(f"{base}/files", params={"artifact_file_path": "../../x"}).status_code == 400
    assert http.get(f"{base}/files", params={"artifact_file_path": "nope.txt"}).status_code == 404
