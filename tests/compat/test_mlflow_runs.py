"""Runs through ``MlflowClient`` and the fluent API: lifecycle, logging, tags, inputs, metric history."""

from __future__ import annotations

import math
import time

import pytest
from mlflow.entities import Metric, Param, RunStatus, RunTag, ViewType
from mlflow.exceptions import MlflowException

from .conftest import assert_error, unique


@pytest.fixture
def experiment_id(client):
    return client.create_experiment(unique("runs"))


def test_create_get_update(client, experiment_id, http):
    run = client.create_run(experiment_id, start_time=1234, tags={"team": "a"}, run_name="first")
    info = run.info
    assert info.experiment_id == experiment_id
    assert info.run_name == "first" and info.status == "RUNNING" and info.start_time == 1234
    assert info.lifecycle_stage == "active" and info.end_time is None
    assert info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{info.run_id}/artifacts"
    assert run.data.tags["team"] == "a" and run.data.tags["mlflow.runName"] == "first"

    client.update_run(info.run_id, status="FAILED", name="renamed")
    got = client.get_run(info.run_id)
    assert got.info.status == "FAILED" and got.info.run_name == "renamed"
    assert got.data.tags["mlflow.runName"] == "renamed"

    client.set_terminated(info.run_id, "FINISHED", end_time=9999)
    got = client.get_run(info.run_id)
    assert got.info.status == "FINISHED" and got.info.end_time == 9999

    body = http.post("/api/2.0/mlflow/runs/update",
                     json={"run_id": info.run_id, "status": "KILLED", "end_time": 10000}).json()
    assert body["run_info"]["status"] == "KILLED" and body["run_info"]["end_time"] == 10000
    assert body["run_info"]["run_id"] == body["run_info"]["run_uuid"] == info.run_id


def test_delete_and_restore(client, experiment_id):
    rid = client.create_run(experiment_id).info.run_id
    client.delete_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "deleted"
    assert client.search_runs([experiment_id]) == []
    assert [r.info.run_id for r in client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)] == [rid]
    with pytest.raises(MlflowException) as info:
        client.log_metric(rid, "m", 1.0)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    client.restore_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "active"
    client.log_metric(rid, "m", 1.0)
    assert client.get_run(rid).data.metrics == {"m": 1.0}


def test_log_metric_param_tag(client, experiment_id):
    rid = client.create_run(experiment_id).info.run_id
    client.log_param(rid, "lr", 0.01)
    client.log_param(rid, "lr", 0.01)  # same value again is fine
    client.log_metric(rid, "loss", 0.5, timestamp=100, step=0)
    client.log_metric(rid, "loss", 0.25, timestamp=200, step=1)
    client.log_metric(rid, "loss", 0.75, timestamp=300, step=0)  # later, lower step: not the latest
    client.set_tag(rid, "note", "hello")
    client.set_tag(rid, "note", "again")
    run = client.get_run(rid)
    assert run.data.params == {"lr": "0.01"}
    assert run.data.metrics == {"loss": 0.25}
    assert run.data.tags["note"] == "again"
    history = client.get_metric_history(rid, "loss")
    assert sorted((m.step, m.timestamp, m.value) for m in history) == [(0, 100, 0.5), (0, 300, 0.75), (1, 200, 0.25)]

    client.delete_tag(rid, "note")
    assert "note" not in client.get_run(rid).data.tags
    with pytest.raises(MlflowException) as info:
        client.delete_tag(rid, "note")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_changing_a_param_is_rejected(client, experiment_id):
    rid = client.create_run(experiment_id).info.run_id
    client.log_param(rid, "lr", "0.01")
    with pytest.raises(MlflowException) as info:
        client.log_param(rid, "lr", "0.02")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert info.value.get_http_status_code() == 400
    with pytest.raises(MlflowException) as info:
        client.log_batch(rid, metrics=[Metric("m", 1.0, 1, 0)], params=[Param("lr", "0.03")])
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    run = client.get_run(rid)
    assert run.data.params == {"lr": "0.01"}
    assert run.data.metrics == {}  # the batch was all or nothing


def test_log_batch(client, experiment_id):
    rid = client.create_run(experiment_id).info.run_id
    metrics = [Metric("acc", i / 10, 1000 + i, i) for i in range(10)] + [Metric("f1", 0.8, 5, 3)]
    client.log_batch(rid, metrics=metrics, params=[Param("a", "1"), Param("b", "x" * 6000)],
                     tags=[RunTag("t", "v"), RunTag("long", "y" * 8000)])
    run = client.get_run(rid)
    assert run.data.metrics == {"acc": 0.9, "f1": 0.8}
    assert run.data.params == {"a": "1", "b": "x" * 6000}
    assert run.data.tags["t"] == "v" and run.data.tags["long"] == "y" * 8000
    assert [m.step for m in client.get_metric_history(rid, "acc")] == list(range(10))
    # Exactly at MLflow's limits.
    client.log_batch(rid, metrics=[Metric(f"m{i}", 1.0, 1, 0) for i in range(1000)])
    client.log_batch(rid, params=[Param(f"p{i}", "v") for i in range(100)], tags=[RunTag(f"t{i}", "v") for i in range(100)])
    run = client.get_run(rid)
    assert len(run.data.metrics) == 1002 and len(run.data.params) == 102


def test_fluent_api(client):
    import mlflow

    exp = mlflow.set_experiment(unique("fluent"))
    with mlflow.start_run(run_name="parent", tags={"kind": "sweep"}) as parent:
        mlflow.log_params({"n": 3, "w": "uniform"})
        mlflow.log_metrics({"acc": 0.95, "f1": 0.9}, step=2)
        mlflow.set_tags({"Model used": "KNN"})
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("loss", 1.5)
        assert mlflow.active_run().info.run_id == parent.info.run_id
    assert mlflow.active_run() is None
    p = mlflow.get_run(parent.info.run_id)
    c = mlflow.get_run(child.info.run_id)
    assert p.info.status == "FINISHED" and p.info.end_time >= p.info.start_time
    assert p.info.experiment_id == exp.experiment_id
    assert p.data.params == {"n": "3", "w": "uniform"}
    assert p.data.metrics == {"acc": 0.95, "f1": 0.9}
    assert p.data.tags["Model used"] == "KNN" and p.data.tags["kind"] == "sweep"
    assert c.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert c.data.metrics == {"loss": 1.5}
    children = mlflow.search_runs([exp.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
                                  output_format="list")
    assert [r.info.run_id for r in children] == [child.info.run_id]


def test_failed_run_status(client):
    import mlflow

    mlflow.set_experiment(unique("fail"))
    with pytest.raises(ZeroDivisionError), mlflow.start_run() as run:
        1 / 0  # noqa: B018
    assert mlflow.get_run(run.info.run_id).info.status == RunStatus.to_string(RunStatus.FAILED)


def test_log_inputs_from_pandas(client):
    import mlflow
    import pandas as pd

    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "target": [0, 1, 0]})
    mlflow.set_experiment(unique("inputs"))
    with mlflow.start_run() as run:
        train = mlflow.data.from_pandas(df, name="Cancer", targets="target")
        mlflow.log_input(train, context="training", tags={"split": "train"})
        mlflow.log_input(mlflow.data.from_pandas(df.head(2), name="Cancer-eval"), context="evaluation")
    inputs = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    by_name = {i.dataset.name: i for i in inputs}
    assert set(by_name) == {"Cancer", "Cancer-eval"}
    got = by_name["Cancer"]
    assert got.dataset.digest == train.digest
    assert got.dataset.source_type == train.source._get_source_type()
    assert got.dataset.schema == train.to_dict()["schema"]
    assert got.dataset.profile == train.to_dict()["profile"]
    assert {t.key: t.value for t in got.tags} == {"mlflow.data.context": "training", "split": "train"}
    # Logging the same dataset again does not duplicate it.
    client.log_inputs(run.info.run_id, [inputs[0]])
    assert len(mlflow.get_run(run.info.run_id).inputs.dataset_inputs) == 2
    found = mlflow.search_runs(filter_string="datasets.name = 'Cancer' AND datasets.context = 'training'",
                               output_format="list")
    assert [r.info.run_id for r in found] == [run.info.run_id]


def test_metric_history_and_bulk_interval(client, experiment_id, http):
    ids = []
    for n in (50, 7):
        rid = client.create_run(experiment_id).info.run_id
        client.log_batch(rid, metrics=[Metric("loss", 1 / (s + 1), 1000 + s, s) for s in range(n)])
        ids.append(rid)
    history = client.get_metric_history(ids[0], "loss")
    assert [m.step for m in history] == list(range(50))
    assert client.get_metric_history(ids[0], "nope") == []

    r = http.get("/api/2.0/mlflow/metrics/get-history-bulk-interval",
                 params=[("run_ids", ids[0]), ("run_ids", ids[1]), ("metric_key", "loss"), ("max_results", "10")])
    assert r.status_code == 200, r.text
    points = r.json()["metrics"]
    by_run: dict[str, list[int]] = {}
    for p in points:
        assert set(p) >= {"key", "value", "timestamp", "step", "run_id"}
        by_run.setdefault(p["run_id"], []).append(p["step"])
    assert by_run[ids[1]] == list(range(7))
    steps = by_run[ids[0]]
    assert len(steps) == 10 and steps[0] == 0 and steps[-1] == 49 and steps == sorted(steps)

    r = http.get("/api/2.0/mlflow/metrics/get-history-bulk-interval",
                 params=[("run_ids", ids[0]), ("metric_key", "loss"), ("start_step", "10"), ("end_step", "20"),
                         ("max_results", "100")])
    assert [p["step"] for p in r.json()["metrics"]] == list(range(10, 21))

    assert_error(http.get("/api/2.0/mlflow/metrics/get-history-bulk-interval",
                          params=[("run_ids", ids[0]), ("metric_key", "loss"), ("start_step", "3")]),
                 400, "INVALID_PARAMETER_VALUE")
    assert_error(http.get("/api/2.0/mlflow/metrics/get-history-bulk-interval",
                          params=[("run_ids", ids[0]), ("metric_key", "loss"), ("max_results", "0")]),
                 400, "INVALID_PARAMETER_VALUE")
    assert_error(http.get("/api/2.0/mlflow/metrics/get-history-bulk-interval", params=[("metric_key", "loss")]),
                 400, "INVALID_PARAMETER_VALUE")
    assert_error(http.get("/api/2.0/mlflow/metrics/get-history-bulk-interval",
                          params=[("run_ids", "f" * 32), ("metric_key", "loss")]), 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize(
    ("points", "max_results"),
    [
        pytest.param([(float(s), 1000 + s, s) for s in range(50)], 10, id="one-per-step"),
        pytest.param([(float(s), 1000 + s, 2 * s) for s in range(30)], 30, id="all-fit"),
        pytest.param([(float(s), 1000 + s, s) for s in range(50)], 1, id="max-1"),
        pytest.param([(float(s % 7), 1000 + s, s // 3) for s in range(60)], 7, id="three-per-step"),
    ],
)
def test_bulk_interval_sampling_matches_mlflow(client, reference, http, points, max_results):
    """Same points, same sample as MLflow 3.17.2's SQL store."""
    metrics = [Metric("m", v, ts, step) for v, ts, step in points]
    ref_run = reference.create_run(reference.create_experiment(unique("bulk"))).info.run_id
    reference.log_batch(ref_run, metrics=metrics)
    expected = reference._tracking_client.store.get_metric_history_bulk_interval(
        [ref_run], "m", max_results=max_results, start_step=None, end_step=None
    )
    rid = client.create_run(client.create_experiment(unique("bulk"))).info.run_id
    client.log_batch(rid, metrics=metrics)
    got = http.get("/api/2.0/mlflow/metrics/get-history-bulk-interval",
                   params=[("run_ids", rid), ("metric_key", "m"), ("max_results", str(max_results))]).json()["metrics"]
    assert [(p["step"], p["timestamp"], p["value"]) for p in got] == [
        (m.step, m.timestamp, m.value) for m in expected
    ]


def test_paged_metric_history(client, experiment_id, http):
    rid = client.create_run(experiment_id).info.run_id
    client.log_batch(rid, metrics=[Metric("x", float(s), 10 + s, s) for s in range(25)])
    seen, token = [], None
    while True:
        params = {"run_id": rid, "metric_key": "x", "max_results": 10}
        if token:
            params["page_token"] = token
        body = http.get("/api/2.0/mlflow/metrics/get-history", params=params).json()
        seen += [m["step"] for m in body["metrics"]]
        token = body.get("next_page_token")
        if not token:
            break
    assert seen == list(range(25))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 1e308, -0.0, 5e-324])
def test_special_metric_values_round_trip(client, experiment_id, http, value):
    rid = client.create_run(experiment_id).info.run_id
    client.log_metric(rid, "v", value, timestamp=1, step=0)
    client.log_batch(rid, metrics=[Metric("w", value, 1, 0)])
    for key in ("v", "w"):
        got = client.get_run(rid).data.metrics[key]
        hist = client.get_metric_history(rid, key)
        assert len(hist) == 1
        for read in (got, hist[0].value):
            if math.isnan(value):
                assert math.isnan(read)
            else:
                assert read == value
    raw = http.get("/api/2.0/mlflow/runs/get", params={"run_id": rid}).json()["run"]["data"]["metrics"]
    wire = {m["key"]: m["value"] for m in raw}
    if math.isnan(value):
        assert wire["v"] == "NaN"
    elif math.isinf(value):
        assert wire["v"] == ("Infinity" if value > 0 else "-Infinity")
    else:
        assert wire["v"] == value


def test_nan_via_raw_json_strings(client, experiment_id, http):
    rid = client.create_run(experiment_id).info.run_id
    for value in ("NaN", "Infinity", "-Infinity"):
        r = http.post("/api/2.0/mlflow/runs/log-metric",
                      json={"run_id": rid, "key": f"k{value}", "value": value, "timestamp": 1, "step": 0})
        assert r.status_code == 200, r.text
    metrics = client.get_run(rid).data.metrics
    assert math.isnan(metrics["kNaN"]) and metrics["kInfinity"] == math.inf and metrics["k-Infinity"] == -math.inf


def test_run_json_shape(client, experiment_id, http):
    run = client.create_run(experiment_id, run_name="shape")
    rid = run.info.run_id
    client.log_batch(rid, metrics=[Metric("m", 1.5, 7, 2)], params=[Param("p", "v")], tags=[RunTag("t", "u")])
    body = http.get("/api/2.0/mlflow/runs/get", params={"run_id": rid}).json()
    info = body["run"]["info"]
    assert info["run_id"] == info["run_uuid"] == rid
    assert info["run_name"] == "shape" and info["status"] == "RUNNING"
    assert info["experiment_id"] == experiment_id and info["lifecycle_stage"] == "active"
    data = body["run"]["data"]
    assert data["metrics"] == [{"key": "m", "value": 1.5, "timestamp": 7, "step": 2}]
    assert data["params"] == [{"key": "p", "value": "v"}]
    assert {"key": "t", "value": "u"} in data["tags"]
    # The legacy run_uuid field is accepted too.
    assert http.get("/api/2.0/mlflow/runs/get", params={"run_uuid": rid}).json() == body


def test_timestamps_default_to_now(client, experiment_id):
    before = int(time.time() * 1000)
    rid = client.create_run(experiment_id).info.run_id
    client.log_metric(rid, "m", 1.0)
    after = int(time.time() * 1000) + 1
    run = client.get_run(rid)
    assert before - 5 <= run.info.start_time <= after
    assert before - 5 <= client.get_metric_history(rid, "m")[0].timestamp <= after
