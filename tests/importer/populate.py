"""An MLflow installation worth moving: built through the official client, on any tracking URI."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

T0 = 1_700_000_000_000
MODEL_NAME = "importer-classifier"


@dataclass
class Built:
    """Ids of what :func:`populate` made, for the assertions."""

    experiments: dict[str, str] = field(default_factory=dict)  # name -> MLflow id
    runs: dict[str, str] = field(default_factory=dict)  # run name -> MLflow run id
    model_id: str = ""


def _location(root: str | None, name: str) -> str | None:
    return None if root is None else os.path.join(root, name)


def populate(uri: str, artifact_root: str | None) -> Built:
    """Two experiments (one deleted), nested runs, histories, datasets, a logged model, a registry entry."""
    import mlflow
    import numpy as np
    import pandas as pd
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    built = Built()
    sweep = client.create_experiment("import-sweep", _location(artifact_root, "sweep"), tags={"team": "vision"})
    built.experiments["import-sweep"] = sweep
    client.set_experiment_tag(sweep, "mlflow.note.content", "learning-rate sweep")
    mlflow.set_experiment(experiment_id=sweep)

    frame = pd.DataFrame({"x1": [0.1, 0.5, 0.9, 0.3], "x2": [1.0, 0.0, 1.0, 0.0], "y": [0, 1, 1, 0]})
    dataset = mlflow.data.from_pandas(frame, source="s3://bucket/train.csv", name="train-set", targets="y")
    with mlflow.start_run(run_name="sweep-parent", tags={"stage": "sweep"}) as parent:
        built.runs["sweep-parent"] = parent.info.run_id
        mlflow.log_params({"optimizer": "adam", "epochs": 3})
        mlflow.log_input(dataset, context="training", tags={"split": "train"})
        mlflow.log_text("notes for the sweep", "notes/readme.txt")
        mlflow.log_dict({"lr": [0.1, 0.01]}, "config/deeper/grid.json")
        for lr in (0.1, 0.01):
            with mlflow.start_run(run_name=f"lr-{lr}", nested=True) as child:
                built.runs[f"lr-{lr}"] = child.info.run_id
                mlflow.log_param("lr", lr)
                points = [
                    mlflow.entities.Metric("loss", 1.0 / (step + 1) + lr, T0 + 10 * step, step) for step in range(30)
                ]
                points.append(mlflow.entities.Metric("loss", 0.5, T0 + 5, 0))  # a second point at step 0
                points.append(mlflow.entities.Metric("grad_norm", float("nan"), T0, 0))
                client.log_batch(child.info.run_id, metrics=points)
        features, labels = frame[["x1", "x2"]].to_numpy(), frame["y"].to_numpy()
        info = mlflow.sklearn.log_model(LogisticRegression().fit(features, labels), name="model",
                                        input_example=np.array([[0.2, 1.0]]), pip_requirements=["scikit-learn"])
        built.model_id = info.model_id
    with mlflow.start_run(run_name="crashed") as crashed:
        built.runs["crashed"] = crashed.info.run_id
        mlflow.log_metric("loss", 3.0, step=0)
        client.log_inputs(crashed.info.run_id, models=[mlflow.entities.LoggedModelInput(info.model_id)])
    client.set_terminated(crashed.info.run_id, "FAILED", end_time=T0 + 99)
    with mlflow.start_run(run_name="thrown-away") as thrown:
        built.runs["thrown-away"] = thrown.info.run_id
        mlflow.log_param("why", "bad seed")
    client.delete_run(thrown.info.run_id)

    old = client.create_experiment("import-old", _location(artifact_root, "old"))
    built.experiments["import-old"] = old
    run = client.create_run(old, start_time=T0, tags={"mlflow.runName": "legacy"})
    built.runs["legacy"] = run.info.run_id
    client.log_metric(run.info.run_id, "acc", 0.7, timestamp=T0 + 1, step=1)
    client.set_terminated(run.info.run_id, end_time=T0 + 2)
    client.delete_experiment(old)

    client.create_registered_model(MODEL_NAME, tags={"owner": "vision"}, description="breast-cancer classifier")
    client.create_model_version(MODEL_NAME, info.model_uri, parent.info.run_id, tags={"candidate": "1"},
                                description="first", model_id=info.model_id)
    client.create_model_version(MODEL_NAME, f"runs:/{parent.info.run_id}/model", parent.info.run_id,
                                description="second")
    client.transition_model_version_stage(MODEL_NAME, "1", "Production")
    client.set_registered_model_alias(MODEL_NAME, "champion", "2")
    client.set_model_version_tag(MODEL_NAME, "2", "validated", "yes")
    mlflow.set_tracking_uri(None)
    return built


def folder_files(folder: str) -> dict[str, bytes]:
    """Every file below ``folder`` (relative path) with its bytes."""
    out: dict[str, bytes] = {}
    for root, _, names in os.walk(folder):
        for name in names:
            with open(os.path.join(root, name), "rb") as f:
                out[os.path.relpath(os.path.join(root, name), folder)] = f.read()
    return out


def files_of(client: Any, run_id: str) -> dict[str, bytes]:
    """Every artifact file of a run (MLflow or modelyard client) with its bytes."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return folder_files(client.download_artifacts(run_id, "", tmp))
