"""One user's session with MLflow's fluent API, on SQLite and PostgreSQL, recorded as MLflow records it."""

from __future__ import annotations

import math
import sys

from .conftest import reset_fluent_state, unique


def _scenario(tracking_uri: str, artifact_location: str | None, tmp_path) -> dict:
    import mlflow
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    reset_fluent_state()
    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    name = unique("Experience_cancer")
    eid = client.create_experiment(name, artifact_location=artifact_location)
    mlflow.set_experiment(name)
    data = load_breast_cancer(as_frame=True)
    train_df = pd.concat([data.data, data.target.rename("target")], axis=1).head(100)
    report = tmp_path / "report.html"
    report.write_text("<p>ok</p>")
    with mlflow.start_run(run_name="knn-5") as run:
        mlflow.log_params({"n_neighbors": 5, "weights": "uniform"})
        mlflow.log_metric("accuracy", 0.955)
        for step, loss in enumerate([0.9, 0.5, float("nan"), 0.2, float("inf")]):
            mlflow.log_metric("loss", loss, step=step)
        mlflow.set_tags({"Model used": "KNN"})
        mlflow.log_input(mlflow.data.from_pandas(train_df, name="Cancer", targets="target"), context="training")
        mlflow.log_artifact(str(report))
        mlflow.log_text("notes", "notes.txt")
        mlflow.log_dict({"k": 5}, "cfg.json")
        with mlflow.start_run(run_name="child", nested=True):
            mlflow.log_metric("child_metric", 1.0)
    found = mlflow.search_runs(
        [eid], filter_string="metrics.accuracy > 0.9 and params.weights = 'uniform'", output_format="list"
    )
    got = client.get_run(run.info.run_id)
    history = client.get_metric_history(run.info.run_id, "loss")
    return {
        "found": [r.info.run_name for r in found],
        "all": sorted(r.info.run_name for r in mlflow.search_runs([eid], output_format="list")),
        "params": got.data.params,
        "metrics": {k: ("nan" if math.isnan(v) else v) for k, v in got.data.metrics.items()},
        "tags": {k: v for k, v in got.data.tags.items() if k != "mlflow.source.name"},
        "history": [(m.step, "nan" if math.isnan(m.value) else m.value) for m in history],
        "inputs": [(i.dataset.name, i.dataset.digest, i.dataset.source_type, i.dataset.schema, i.dataset.profile)
                   for i in got.inputs.dataset_inputs],
        "artifacts": sorted(f.path for f in client.list_artifacts(run.info.run_id)),
        "text": mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/notes.txt"),
        "status": got.info.status,
    }


def _unclamp(value):
    if isinstance(value, float) and abs(value) == sys.float_info.max:
        return math.copysign(math.inf, value)
    return value


def test_scenario_matches_mlflow(live_server, reference, tmp_path):
    """``live_server`` runs over a fresh SQLite and a fresh PostgreSQL store."""
    try:
        expected = _scenario(reference._tracking_client.tracking_uri, str(tmp_path / "mlflow-artifacts"), tmp_path)
        ours = _scenario(live_server.url, None, tmp_path)
    finally:
        reset_fluent_state()
    # The one deliberate difference: MLflow's SQL store clamps ±inf to ±sys.float_info.max;
    # we keep ±inf, which the client reads back as ±inf.
    expected["metrics"] = {k: _unclamp(v) for k, v in expected["metrics"].items()}
    expected["history"] = [(s, _unclamp(v)) for s, v in expected["history"]]
    assert ours == expected
    assert ours["found"] == ["knn-5"]
    assert ours["all"] == ["child", "knn-5"]
    assert ours["metrics"]["loss"] == math.inf
    assert ours["history"][2] == (2, "nan")
    assert ours["artifacts"] == ["cfg.json", "notes.txt", "report.html"]
