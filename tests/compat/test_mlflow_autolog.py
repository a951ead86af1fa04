"""``mlflow.sklearn.autolog()`` records the same against our server as against MLflow's own store."""

from __future__ import annotations

import pytest

from .conftest import reset_fluent_state, unique

# What autolog records for LogisticRegression in MLflow 3.17.2 (documented, and checked against MLflow's store).
EXPECTED_METRICS = {
    "training_accuracy_score", "training_f1_score", "training_log_loss", "training_precision_score",
    "training_recall_score", "training_roc_auc", "training_score",
}
EXPECTED_TAGS = {"estimator_class", "estimator_name", "mlflow.runName", "mlflow.source.name",
                 "mlflow.source.type", "mlflow.user"}
# A binary classifier also gets ROC and precision-recall curves.
EXPECTED_ARTIFACTS = {"estimator.html", "training_confusion_matrix.png", "training_roc_curve.png",
                      "training_precision_recall_curve.png"}


def _autolog_fit(tracking_uri: str, artifact_location: str | None, log_models: bool = False) -> dict:
    import mlflow
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    reset_fluent_state()
    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    eid = client.create_experiment(unique("autolog"), artifact_location=artifact_location)
    mlflow.set_experiment(experiment_id=eid)
    mlflow.sklearn.autolog(log_models=log_models, log_datasets=True, silent=True)
    try:
        X, y = load_breast_cancer(return_X_y=True)
        with mlflow.start_run(run_name="autolog") as run:
            LogisticRegression(max_iter=3000, random_state=0).fit(X[:200], y[:200])
    finally:
        mlflow.sklearn.autolog(disable=True)
    got = client.get_run(run.info.run_id)
    inputs = got.inputs.dataset_inputs
    return {
        "params": got.data.params,
        "metrics": got.data.metrics,
        "tags": {k: v for k, v in got.data.tags.items() if k not in ("mlflow.source.name",)},
        "artifacts": {f.path for f in client.list_artifacts(run.info.run_id)},
        "datasets": sorted((i.dataset.name, i.dataset.digest, i.dataset.schema, i.dataset.profile,
                            tuple(sorted((t.key, t.value) for t in i.tags))) for i in inputs),
        "status": got.info.status,
        "history": {k: len(client.get_metric_history(run.info.run_id, k)) for k in got.data.metrics},
    }


@pytest.fixture(scope="module")
def expected(reference, tmp_path_factory):
    uri = reference._tracking_client.tracking_uri
    try:
        return _autolog_fit(uri, str(tmp_path_factory.mktemp("mlflow-artifacts")))
    finally:
        reset_fluent_state()


def test_autolog_matches_mlflow(client, server, expected):
    ours = _autolog_fit(server.url, None)
    assert set(expected["metrics"]) == EXPECTED_METRICS  # the oracle recorded what MLflow documents
    assert set(expected["tags"]) | {"mlflow.source.name"} == EXPECTED_TAGS
    assert ours["params"] == expected["params"]
    assert ours["params"]["max_iter"] == "3000" and ours["params"]["C"] == "1.0"
    assert ours["metrics"] == pytest.approx(expected["metrics"])
    assert ours["tags"] == expected["tags"]
    assert ours["artifacts"] == expected["artifacts"] == EXPECTED_ARTIFACTS
    assert ours["datasets"] == expected["datasets"] and ours["datasets"]
    assert ours["status"] == expected["status"] == "FINISHED"
    assert ours["history"] == expected["history"]


def test_autolog_with_models(client, server):
    ours = _autolog_fit(server.url, None, log_models=True)
    assert set(ours["metrics"]) == EXPECTED_METRICS
