"""The fluent API: one user scenario in embedded mode and against a live server."""

from __future__ import annotations

import asyncio
import math
import threading

import pandas as pd
import pytest

import modelyard as my
from modelyard.errors import InvalidParameterValue


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    my.set_tracking_uri(None)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MODELYARD_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)  # mlflow.set_experiment exports it
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    yield tmp_path / ".modelyard"
    while my.active_run():
        my.end_run()
    my.set_tracking_uri(None)


@pytest.fixture
def served(live_server, monkeypatch):
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    my.set_tracking_uri(live_server.url)
    yield live_server.url
    while my.active_run():
        my.end_run()
    my.set_tracking_uri(None)


def scenario(tmp_path) -> None:
    """The issue's example, end to end, then read back."""
    my.set_experiment("Experience_cancer")
    train_df = pd.DataFrame({"radius": [1.0, 2.0, 3.0, 4.0], "target": [0, 1, 0, 1]})
    report = tmp_path / "report.html"
    report.write_text("<h1>report</h1>")
    losses = [1.0 / (i + 1) for i in range(30)]
    with my.start_run(run_name="knn-5") as run:
        my.log_params({"n_neighbors": 5, "weights": "uniform"})
        my.log_metric("accuracy", 0.955)
        for step, loss in enumerate(losses):
            my.log_metric("loss", loss, step=step)
        my.set_tags({"Model used": "KNN"})
        my.log_input(my.data.from_pandas(train_df, name="Cancer", targets="target"), context="training")
        my.log_artifact(str(report))
        my.log_text("some notes", "notes.txt")
        my.log_dict({"k": [1, 2]}, "cfg.json")
        with my.start_run(run_name="child", nested=True) as child:
            my.log_metric("nan_metric", math.nan)
        assert my.active_run().info.run_id == run.info.run_id
    assert my.active_run() is None

    df = my.search_runs(filter_string="metrics.accuracy > 0.9 and params.weights = 'uniform'")
    assert list(df["run_id"]) == [run.info.run_id]
    assert df.loc[0, "params.n_neighbors"] == "5"
    assert df.loc[0, "tags.Model used"] == "KNN"
    assert df.loc[0, "status"] == "FINISHED"

    got = my.get_run(run.info.run_id)
    assert got.data.metrics["loss"] == losses[-1]
    assert [m.value for m in my.get_metric_history(run.info.run_id, "loss")] == losses
    [inp] = got.inputs.dataset_inputs
    assert inp.dataset.name == "Cancer" and inp.tags[0].value == "training"
    files = {f.path for f in my.Client().list_artifacts(run.info.run_id)}
    assert files == {"report.html", "notes.txt", "cfg.json"}
    assert my.Client().load_text(run.info.run_id, "notes.txt") == "some notes"

    child_run = my.get_run(child.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == run.info.run_id
    assert math.isnan(child_run.data.metrics["nan_metric"])
    listed = my.search_runs(output_format="list", order_by=["attributes.run_name ASC"])
    assert [r.info.run_name for r in listed] == ["child", "knn-5"]
    by_dataset = my.search_runs(filter_string="datasets.name = 'Cancer'", output_format="list")
    assert [r.info.run_id for r in by_dataset] == [run.info.run_id]


def test_scenario_embedded(embedded, tmp_path):
    scenario(tmp_path)
    assert (embedded / "modelyard.db").exists()
    assert any((embedded / "artifacts").rglob("notes.txt"))


def test_scenario_against_server(served, tmp_path):
    scenario(tmp_path)


def test_tracking_uri_resolution_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    my.set_tracking_uri(None)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")
    assert my.get_tracking_uri() == "http://127.0.0.1:1"
    my.set_tracking_uri(None)
    monkeypatch.setenv("MODELYARD_TRACKING_URI", str(tmp_path / "x"))
    assert my.get_tracking_uri() == str(tmp_path / "x")
    my.set_tracking_uri("rel")
    assert my.get_tracking_uri() == str(tmp_path / "rel")
    my.set_tracking_uri(None)
    monkeypatch.delenv("MODELYARD_TRACKING_URI")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert my.get_tracking_uri() == str(tmp_path / ".modelyard")
    my.set_tracking_uri(None)


def test_active_run_is_per_thread_and_per_task(embedded):
    my.set_experiment("isolation")
    seen: dict[str, str | None] = {}
    with my.start_run(run_name="main") as main_run:
        def worker() -> None:
            seen["thread_before"] = my.active_run() and my.active_run().info.run_id
            with my.start_run(run_name="in-thread") as r:
                seen["thread_run"] = r.info.run_id

        t = threading.Thread(target=worker)
        t.start()
        t.join()

        async def task(name: str) -> str:
            with my.start_run(run_name=name, nested=True) as r:
                await asyncio.sleep(0.01)
                assert my.active_run().info.run_id == r.info.run_id
                return r.info.run_id

        async def both() -> list[str]:
            return await asyncio.gather(task("t1"), task("t2"))

        task_ids = asyncio.run(both())
        assert my.active_run().info.run_id == main_run.info.run_id
    assert seen["thread_before"] is None
    assert seen["thread_run"] != main_run.info.run_id
    assert len(set(task_ids)) == 2
    for rid in task_ids:
        assert my.get_run(rid).data.tags["mlflow.parentRunId"] == main_run.info.run_id


def test_starting_a_second_run_without_nested_is_refused(embedded):
    with my.start_run():
        with pytest.raises(InvalidParameterValue, match="already active"):
            my.start_run()


def test_failed_block_marks_run_failed(embedded):
    with pytest.raises(RuntimeError):
        with my.start_run() as run:
            raise RuntimeError("boom")
    assert my.get_run(run.info.run_id).info.status == "FAILED"


def test_background_flush_error_is_raised_not_swallowed(embedded):
    with my.start_run() as run:
        my.log_metric("ok", 1.0)
        my.flush()
        my.Client().delete_run(run.info.run_id)  # the next background send will be refused
        my.log_metric("late", 2.0)
        with pytest.raises(InvalidParameterValue, match="must be in the 'active' state"):
            my.flush()
        my.Client().restore_run(run.info.run_id)


def test_bad_metric_is_refused_at_the_call(embedded):
    with my.start_run():
        with pytest.raises(InvalidParameterValue, match="must be a number"):
            my.log_metric("m", "high")
        with pytest.raises(InvalidParameterValue, match="Names may only contain"):
            my.log_metric("bad*key", 1.0)


def test_system_metrics_are_sampled_into_the_run(embedded, monkeypatch):
    monkeypatch.setenv("MODELYARD_SYSTEM_METRICS_INTERVAL", "0.2")
    with my.start_run(log_system_metrics=True) as run:
        import time

        time.sleep(0.7)
    metrics = my.get_run(run.info.run_id).data.metrics
    for key in (
        "system/cpu_utilization_percentage",
        "system/system_memory_usage_megabytes",
        "system/system_memory_usage_percentage",
        "system/disk_usage_percentage",
        "system/network_receive_megabytes",
    ):
        assert key in metrics, key
    history = my.get_metric_history(run.info.run_id, "system/cpu_utilization_percentage")
    assert len(history) >= 2
    assert 0 <= metrics["system/system_memory_usage_percentage"] <= 100


def test_a_failed_send_is_reported_to_its_own_run_only(embedded):
    my.set_experiment("errors-per-run")
    doomed = my.start_run(run_name="doomed")
    doomed_id = doomed.info.run_id
    my.end_run()
    my.Client().delete_run(doomed_id)  # sends for this run will now be refused
    my.log_metric("x", 1.0, run_id=doomed_id)
    with my.start_run(run_name="healthy") as healthy:
        my.log_metric("y", 2.0)
    assert my.get_run(healthy.info.run_id).info.status == "FINISHED"
    with pytest.raises(InvalidParameterValue, match="must be in the 'active' state"):
        my.flush()
