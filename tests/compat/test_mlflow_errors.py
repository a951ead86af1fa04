"""Bad input gets MLflow's error codes and HTTP statuses, and never a partial write."""

from __future__ import annotations

import pytest
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from .conftest import assert_error, unique

MISSING_RUN = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def run_id(client):
    return client.create_run(client.create_experiment(unique("err"))).info.run_id


def _assert_untouched(client, run_id):
    run = client.get_run(run_id)
    assert run.data.metrics == {} and run.data.params == {}
    assert set(run.data.tags) == {"mlflow.runName"}


def test_missing_run_and_experiment_through_client(client):
    for call in (
        lambda: client.get_run(MISSING_RUN),
        lambda: client.log_metric(MISSING_RUN, "m", 1.0),
        lambda: client.log_param(MISSING_RUN, "p", "v"),
        lambda: client.set_tag(MISSING_RUN, "t", "v"),
        lambda: client.delete_run(MISSING_RUN),
        lambda: client.get_metric_history(MISSING_RUN, "m"),
        lambda: client.get_experiment("424242"),
        lambda: client.create_run("424242"),
    ):
        with pytest.raises(MlflowException) as info:
            call()
        assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
        assert info.value.get_http_status_code() == 404


@pytest.mark.parametrize(
    ("batch", "field"),
    [
        ({"metrics": [Metric(f"m{i}", 1.0, 1, 0) for i in range(1001)]}, "metrics"),
        ({"params": [Param(f"p{i}", "v") for i in range(101)]}, "params"),
        ({"tags": [RunTag(f"t{i}", "v") for i in range(101)]}, "tags"),
    ],
    ids=["1001-metrics", "101-params", "101-tags"],
)
def test_over_limit_batches_raw(http, client, run_id, batch, field):
    body = {"run_id": run_id}
    for key, items in batch.items():
        body[key] = [
            {"key": i.key, "value": i.value, "timestamp": i.timestamp, "step": i.step} if isinstance(i, Metric)
            else {"key": i.key, "value": i.value}
            for i in items
        ]
    err = assert_error(http.post("/api/2.0/mlflow/runs/log-batch", json=body), 400, "INVALID_PARAMETER_VALUE")
    assert field in err["message"]
    _assert_untouched(client, run_id)


def test_over_limit_batch_through_the_client_is_split(client, run_id):
    # MlflowClient splits big batches itself; everything arrives.
    client.log_batch(run_id, metrics=[Metric(f"m{i}", 1.0, 1, 0) for i in range(2500)])
    assert len(client.get_run(run_id).data.metrics) == 2500


@pytest.mark.parametrize(
    ("route", "body", "mentions"),
    [
        ("runs/log-metric", {"key": "k" * 251, "value": 1, "timestamp": 1}, "250"),
        ("runs/log-parameter", {"key": "k" * 251, "value": "v"}, "250"),
        ("runs/set-tag", {"key": "k" * 251, "value": "v"}, "250"),
        ("runs/log-parameter", {"key": "p", "value": "v" * 6001}, "6000"),
        ("runs/set-tag", {"key": "t", "value": "v" * 8001}, "8000"),
        ("runs/log-batch", {"params": [{"key": "ok", "value": "1"}, {"key": "p", "value": "v" * 6001}]}, "6000"),
        ("runs/log-batch", {"metrics": [{"key": "ok", "value": 1, "timestamp": 1},
                                        {"key": "k" * 251, "value": 1, "timestamp": 1}]}, "250"),
        ("runs/log-batch", {"metrics": [{"key": "ok", "value": 1, "timestamp": 1},
                                        {"key": "../x", "value": 1, "timestamp": 1}]}, None),
        ("runs/log-batch", {"metrics": [{"key": "ok", "value": 1, "timestamp": 1}], "tags": [{"value": "v"}]}, None),
        ("runs/log-metric", {"key": "m", "value": 1, "timestamp": -1}, "timestamp"),
        ("runs/log-metric", {"key": "m", "timestamp": 1}, "value"),
        ("runs/log-metric", {"key": "m", "value": 1}, "timestamp"),
        ("runs/log-metric", {"value": 1, "timestamp": 1}, "key"),
        ("runs/log-metric", {"key": "m", "value": "high", "timestamp": 1}, "value"),
        ("runs/log-metric", {"key": "m", "value": 1, "timestamp": "noon"}, "timestamp"),
        ("runs/log-metric", {"key": "m", "value": 1, "timestamp": 1, "step": 1.5}, "step"),
        ("runs/log-metric", {"key": "m", "value": [1], "timestamp": 1}, "value"),
        ("runs/log-parameter", {"key": "p"}, "value"),
        ("runs/log-parameter", {"key": "p", "value": {"nested": 1}}, "value"),
        ("runs/log-batch", {"metrics": {"key": "m"}}, "metrics"),
        ("runs/log-batch", {"metrics": [{"key": "m", "value": 1}]}, "timestamp"),
        ("runs/set-tag", {"key": "t", "value": None}, "value"),
        ("runs/update", {"status": "EXPLODED"}, "status"),
        ("runs/log-inputs", {"datasets": [{"dataset": {"name": "d"}}]}, "digest"),
    ],
)
def test_invalid_values(http, client, run_id, route, body, mentions):
    err = assert_error(http.post(f"/api/2.0/mlflow/{route}", json={"run_id": run_id, **body}), 400,
                       "INVALID_PARAMETER_VALUE")
    if mentions:
        assert mentions in err["message"], err
    _assert_untouched(client, run_id)
    assert client.get_run(run_id).info.status == "RUNNING"


def test_changing_param_in_batch_writes_nothing(http, client, run_id):
    client.log_param(run_id, "p", "1")
    r = http.post("/api/2.0/mlflow/runs/log-batch", json={
        "run_id": run_id,
        "metrics": [{"key": "m", "value": 1, "timestamp": 1}],
        "params": [{"key": "q", "value": "new"}, {"key": "p", "value": "2"}],
        "tags": [{"key": "t", "value": "v"}],
    })
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    run = client.get_run(run_id)
    assert run.data.params == {"p": "1"} and run.data.metrics == {} and "t" not in run.data.tags


@pytest.mark.parametrize("route", ["runs/create", "runs/log-metric", "runs/log-batch", "experiments/create"])
@pytest.mark.parametrize("payload", [b"{not json", b"[1, 2]", b'{"run_id": ', b"\xff\xfe", b'"string"'])
def test_malformed_json(http, route, payload):
    r = http.post(f"/api/2.0/mlflow/{route}", content=payload, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] in ("MALFORMED_REQUEST", "INVALID_PARAMETER_VALUE", "BAD_REQUEST")


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("experiments/create", {"name": ["a"]}),
        ("experiments/create", {"name": "x", "tags": "nope"}),
        ("experiments/update", {"experiment_id": "0"}),
        ("experiments/set-experiment-tag", {"experiment_id": "0", "value": "v"}),
        ("runs/create", {"experiment_id": {"id": 0}}),
        ("runs/create", {"start_time": "yesterday"}),
        ("runs/log-metric", {"run_id": 5, "key": "m", "value": 1, "timestamp": 1}),
        ("runs/log-metric", {"key": "m", "value": 1, "timestamp": 1}),
        ("runs/get#GET", {}),
        ("metrics/get-history#GET", {"run_id": MISSING_RUN}),
        ("runs/search", {"max_results": "many"}),
    ],
)
def test_wrong_types_and_missing_fields(http, route, body):
    path, _, method = route.partition("#")
    if method == "GET":
        r = http.get(f"/api/2.0/mlflow/{path}", params=body)
    else:
        r = http.post(f"/api/2.0/mlflow/{path}", json=body)
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_missing_run_raw(http):
    assert_error(http.get("/api/2.0/mlflow/runs/get", params={"run_id": MISSING_RUN}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(http.post("/api/2.0/mlflow/runs/log-batch", json={"run_id": MISSING_RUN, "params": [
        {"key": "p", "value": "v"}]}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(http.post("/api/2.0/mlflow/runs/update", json={"run_id": MISSING_RUN, "status": "FINISHED"}),
                 404, "RESOURCE_DOES_NOT_EXIST")


def test_log_batch_over_mlflow_size_limit(http, client, run_id):
    """MLflow answers a log-batch body over 1,000,000 bytes with INVALID_PARAMETER_VALUE (400)."""
    body = {"run_id": run_id, "params": [{"key": f"p{i}", "value": "x" * 6000} for i in range(100)],
            "tags": [{"key": f"t{i}", "value": "y" * 8000} for i in range(100)]}
    err = assert_error(http.post("/api/2.0/mlflow/runs/log-batch", json=body), 400, "INVALID_PARAMETER_VALUE")
    assert "1000000 bytes" in err["message"]
    _assert_untouched(client, run_id)


def test_body_over_the_request_limit(http, client, run_id):
    big = b'{"run_id": "' + run_id.encode() + b'", "key": "p", "value": "' + b"x" * (65 * 1024 * 1024) + b'"}'
    r = http.post("/api/2.0/mlflow/runs/log-parameter", content=big, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500
    assert r.json()["error_code"] in ("REQUEST_LIMIT_EXCEEDED", "INVALID_PARAMETER_VALUE")
    _assert_untouched(client, run_id)
