"""examples/tabular: the sweep is tracked, the best run registered and promoted, served and scored in batch."""

from __future__ import annotations

import sys
from contextlib import closing
from pathlib import Path

import httpx
import pandas as pd
import pytest

from modelyard.client import Client
from tests.serving.conftest import ServeProcess

from .support import EXAMPLES, example_env, run

pytest.importorskip("sklearn")
pytest.importorskip("skops")

TRAIN = EXAMPLES / "tabular" / "train.py"
NAME = "breast-cancer-classifier"
CHAMPION = f"models:/{NAME}@champion"


def test_tabular_lab_end_to_end(tmp_path: Path) -> None:
    store = tmp_path / "store"
    env = example_env(store)
    out = run([sys.executable, str(TRAIN), "--small"], tmp_path, env).stdout
    assert f"registered {NAME} version 1, alias champion" in out
    assert f"modelyard serve {CHAMPION}" in out

    with closing(Client(str(store))) as client:
        experiment = client.get_experiment_by_name("breast-cancer-lab")
        runs = client.search_runs(experiment.experiment_id).items
        [parent] = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert sorted(r.info.run_name for r in children) == ["knn-k3-uniform", "logreg-C0.1", "logreg-C1"]
        assert len(runs) == 4
        assert parent.data.tags["lab"] == "tabular"
        assert parent.data.tags["mlflow.note.content"].startswith("KNN and logistic regression")
        for r in [parent, *children]:
            assert r.info.status == "FINISHED"
            assert "system/cpu_utilization_percentage" in r.data.metrics
            [dataset_input] = r.inputs.dataset_inputs
            dataset = dataset_input.dataset
            assert dataset.name == "breast-cancer" and len(dataset.digest) >= 8
            assert "mean radius" in dataset.schema and "target" in dataset.schema
            assert {(t.key, t.value) for t in dataset_input.tags} == {("mlflow.data.context", "training")}
        for r in children:
            assert {"accuracy", "f1", "precision", "recall"} <= set(r.data.metrics)
            assert r.data.tags["model"] == r.data.params["model"]
            assert r.data.tags["mlflow.note.content"].startswith(r.data.params["model"])

        # The registered version is the search's best run, moved to Production with both aliases.
        best = max(children, key=lambda r: (r.data.metrics["accuracy"], r.data.metrics["f1"], -r.info.start_time))
        version = client.get_model_version(NAME, 1)
        assert version.run_id == best.info.run_id
        assert version.current_stage == "Production"
        assert set(version.aliases) == {"staging", "champion"}
        assert version.description.startswith("test accuracy ")

    # Batch scoring with the CLI, then one request to the served champion: the same answers.
    assert not list(tmp_path.glob("predictions*"))
    run([sys.executable, "-m", "modelyard.cli", "predict", CHAMPION, "--input", "new_patients.csv",
         "--output", "predictions.csv", "--no-progress"], tmp_path, env)
    rows = pd.read_csv(tmp_path / "new_patients.csv")
    batch = pd.read_csv(tmp_path / "predictions.csv")["prediction"].tolist()
    assert len(batch) == len(rows) == 143 and set(batch) == {0, 1}

    server = ServeProcess(CHAMPION, str(store), env={"MODELYARD_TRACKING_URI": str(store)})
    try:
        answer = httpx.post(server.url + "/invocations", timeout=30,
                            json={"dataframe_records": rows.head(5).to_dict(orient="records")})
    finally:
        server.stop()
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == batch[:5]

    # Run again: the new version takes both aliases and Production; the old one is archived.
    assert f"registered {NAME} version 2, alias champion" in run([sys.executable, str(TRAIN), "--small"], tmp_path,
                                                                 env).stdout
    with closing(Client(str(store))) as client:
        old, new = client.get_model_version(NAME, 1), client.get_model_version(NAME, 2)
        assert (old.current_stage, old.aliases) == ("Archived", [])
        assert (new.current_stage, set(new.aliases)) == ("Production", {"staging", "champion"})
