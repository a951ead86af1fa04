from __future__ import annotations

import os
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from modelyard.cli.quickstart import candidates
from modelyard.client import Client

from .conftest import assert_clean_error

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

METRICS = {"accuracy", "f1", "precision", "recall"}
PNG = b"\x89PNG\r\n\x1a\n"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MODELYARD_TRACKING_URI", "MLFLOW_TRACKING_URI")}
    env["PYTHONWARNINGS"] = "error::FutureWarning,error::UserWarning"
    return env


def test_quickstart_console_script_logs_a_nested_sweep(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "modelyard.cli", "quickstart"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr

    with closing(Client(str(tmp_path / ".modelyard"))) as client:
        experiment = client.get_experiment_by_name("quickstart")
        assert experiment is not None
        runs = client.search_runs(experiment.experiment_id, order_by=["attributes.start_time ASC"]).items
        parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
        children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
        assert len(parents) == 1 and len(children) == len(candidates()) == 10
        parent = parents[0]
        assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
        assert [r.info.run_name for r in children] == [c.name for c in candidates()]
        assert {r.info.status for r in runs} == {"FINISHED"}

        for run in children:
            assert set(run.data.metrics) == METRICS
            assert all(0.9 < v <= 1.0 for v in run.data.metrics.values()), run.data.metrics
            assert run.data.params["model"] in ("KNN", "LogisticRegression")
            assert run.data.tags["model"] == run.data.params["model"]
            [dataset_input] = run.inputs.dataset_inputs
            assert dataset_input.dataset.name == "breast-cancer"
            assert {(t.key, t.value) for t in dataset_input.tags} == {("mlflow.data.context", "training")}
            artifacts = [f.path for f in client.list_artifacts(run.info.run_id)]
            assert artifacts == (["confusion_matrix.png", "model"] if run.info.run_id == parent.data.tags["best_run_id"]
                                 else ["confusion_matrix.png"])
            local = client.download_artifacts(run.info.run_id, "confusion_matrix.png", str(tmp_path / run.info.run_id))
            assert Path(local).read_bytes()[:8] == PNG
        knn = next(r for r in children if r.info.run_name == "knn-k3-uniform")
        assert knn.data.params == {"model": "KNN", "n_neighbors": "3", "weights": "uniform"}
        assert knn.data.metrics["accuracy"] == pytest.approx(135 / 143)

        # The parent names the best child; the summary prints it with the commands to look further.
        best = max(children, key=lambda r: (r.data.metrics["accuracy"], r.data.metrics["f1"]))
        assert best.data.metrics["accuracy"] == pytest.approx(138 / 143)
        assert parent.data.tags["best_run_id"] in {r.info.run_id for r in children}
        named_best = client.get_run(parent.data.tags["best_run_id"])
        assert named_best.data.metrics["accuracy"] == best.data.metrics["accuracy"]
        assert parent.inputs.dataset_inputs[0].dataset.name == "breast-cancer"

        # The best run's model is registered, the champion, and loads back to score the test rows.
        version = client.get_model_version_by_alias("quickstart-breast-cancer", "champion")
        assert version.version == "1" and version.run_id == named_best.info.run_id
        assert version.source == f"runs:/{named_best.info.run_id}/model"

    out = proc.stdout
    assert f"Logged to experiment 'quickstart' (id {experiment.experiment_id})" in out
    assert "1 parent run" in out and "10 nested runs" in out
    assert f"Best by accuracy: {named_best.info.run_name} ({named_best.info.run_id})" in out
    assert "accuracy=0.965035" in out
    assert "Its model is registered as 'quickstart-breast-cancer' version 1, alias 'champion'" in out
    assert "models:/quickstart-breast-cancer@champion it gets 138/143 test rows right." in out  # its accuracy, served
    assert out.rstrip().splitlines()[-1].startswith("  modelyard serve models:/quickstart-breast-cancer@champion    #")
    for hint in ("modelyard runs list --experiment-name quickstart", "modelyard ui", "modelyard server",
                 "MLFLOW_TRACKING_URI=http://127.0.0.1:5000"):
        assert hint in out


def test_quickstart_is_deterministic_and_honours_its_options(cli, folder: Path) -> None:
    store = folder / "store"
    first = cli("quickstart", "--experiment-name", "one", "--tracking-uri", str(store))
    assert first.exit_code == 0, first.output
    second = cli("quickstart", "--experiment-name", "two", "--tracking-uri", str(store))
    assert second.exit_code == 0, second.output
    assert not (folder / ".modelyard").exists()
    assert f"--tracking-uri {store}" in first.output and f"modelyard ui --dir {store}" in first.output
    assert f"modelyard serve models:/quickstart-breast-cancer@champion --tracking-uri {store}" in first.output

    with closing(Client(str(store))) as client:
        def metrics(name: str) -> dict[str, dict[str, float]]:
            exp = client.get_experiment_by_name(name)
            return {r.info.run_name: r.data.metrics for r in client.search_runs(exp.experiment_id).items}

        assert metrics("one") == metrics("two")
        # Each quickstart registers a new version; the alias follows the newest.
        assert client.get_model_version_by_alias("quickstart-breast-cancer", "champion").version == "2"
    assert first.output.split("Best by accuracy: ")[1].split()[0] == second.output.split("Best by accuracy: ")[1].split()[0]


def test_quickstart_into_a_deleted_experiment_is_a_clean_error(cli, client: Client) -> None:
    client.delete_experiment(client.create_experiment("gone"))
    assert_clean_error(cli("quickstart", "--experiment-name", "gone"), "deleted")


def test_quickstart_against_a_server(cli, sqlite_live_server) -> None:
    result = cli("quickstart", "--tracking-uri", sqlite_live_server.url)
    assert result.exit_code == 0, result.output
    assert f"MLFLOW_TRACKING_URI={sqlite_live_server.url}" in result.output
    with closing(Client(sqlite_live_server.url)) as client:
        experiment = client.get_experiment_by_name("quickstart")
        runs = client.search_runs(experiment.experiment_id, filter_string="tags.mlflow.parentRunId != ''").items
        assert len(runs) == 10
        assert "confusion_matrix.png" in [f.path for f in client.list_artifacts(runs[0].info.run_id)]
        assert client.get_model_version_by_alias("quickstart-breast-cancer", "champion").version == "1"
    assert "138/143 test rows right" in result.output
