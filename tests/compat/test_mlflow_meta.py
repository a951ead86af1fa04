"""/health, /version, server-info, and every MLflow route answered alike under /api and /ajax-api."""

from __future__ import annotations

import pytest

from .conftest import unique


def test_health_and_version(http):
    r = http.get("/health")
    assert r.status_code == 200 and r.text == "OK"
    r = http.get("/version")
    from packaging.version import Version

    import modelyard

    # The MLflow API level (the client gates span logging on >= 3.4); ours travels in a header.
    assert r.status_code == 200 and Version(r.text) >= Version("3.4")
    assert r.headers["x-modelyard-version"] == modelyard.__version__


@pytest.mark.parametrize("prefix", ["/api", "/ajax-api"])
def test_server_info(http, prefix):
    r = http.get(f"{prefix}/3.0/mlflow/server-info")
    assert r.status_code == 200
    body = r.json()
    assert body["store_type"] == "SqlStore"
    assert body["workspaces_enabled"] is True


def test_client_reads_server_info(server):
    """MLflow's own probe (used by its artifact repository and telemetry) reads our answer."""
    from mlflow.utils.rest_utils import MlflowHostCreds
    from mlflow.utils.server_info import (
        SERVER_INFO_MULTIPART_UPLOADS_ENABLED,
        SERVER_INFO_STORE_TYPE,
        fetch_server_info,
    )

    response = fetch_server_info(MlflowHostCreds(server.url))
    assert response.status_code == 200
    assert response.data[SERVER_INFO_STORE_TYPE] == "SqlStore"
    assert response.data[SERVER_INFO_MULTIPART_UPLOADS_ENABLED] is True  # our proxy joins parts for any destination


def _seed(http):
    eid = http.post("/api/2.0/mlflow/experiments/create", json={"name": unique("ajax")}).json()["experiment_id"]
    run = http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": eid, "start_time": 1}).json()["run"]
    rid = run["info"]["run_id"]
    http.post("/api/2.0/mlflow/runs/log-metric", json={"run_id": rid, "key": "m", "value": 1, "timestamp": 1})
    return eid, rid


def _then(setup_response, args):
    assert setup_response.status_code == 200, setup_response.text
    return args


# (method, path, body-or-query builder). Each is called once under /api and once under /ajax-api,
# on separate objects, and the two answers must agree.
ROUTES = {
    "experiments/create": ("POST", lambda h, e, r: {"name": unique("ajax")}),
    "experiments/get": ("GET", lambda h, e, r: {"experiment_id": e}),
    "experiments/get-by-name": ("GET", lambda h, e, r: {"experiment_name": "Default"}),
    "experiments/search": ("POST", lambda h, e, r: {"filter": "name = 'Default'"}),
    "experiments/search#get": ("GET", lambda h, e, r: {"filter": "name = 'Default'"}),
    "experiments/update": ("POST", lambda h, e, r: {"experiment_id": e, "new_name": unique("renamed")}),
    "experiments/set-experiment-tag": ("POST", lambda h, e, r: {"experiment_id": e, "key": "k", "value": "v"}),
    "experiments/delete-experiment-tag": ("POST", lambda h, e, r: _then(
        h.post("/api/2.0/mlflow/experiments/set-experiment-tag", json={"experiment_id": e, "key": "k", "value": "v"}),
        {"experiment_id": e, "key": "k"})),
    "experiments/delete": ("POST", lambda h, e, r: {"experiment_id": e}),
    "experiments/restore": ("POST", lambda h, e, r: _then(
        h.post("/api/2.0/mlflow/experiments/delete", json={"experiment_id": e}), {"experiment_id": e})),
    "runs/create": ("POST", lambda h, e, r: {"experiment_id": e, "run_name": "x"}),
    "runs/get": ("GET", lambda h, e, r: {"run_id": r}),
    "runs/update": ("POST", lambda h, e, r: {"run_id": r, "status": "FINISHED", "end_time": 5}),
    "runs/delete": ("POST", lambda h, e, r: {"run_id": r}),
    "runs/restore": ("POST", lambda h, e, r: _then(
        h.post("/api/2.0/mlflow/runs/delete", json={"run_id": r}), {"run_id": r})),
    "runs/search": ("POST", lambda h, e, r: {"experiment_ids": [e]}),
    "runs/search#get": ("GET", lambda h, e, r: {"experiment_ids": e}),
    "runs/log-metric": ("POST", lambda h, e, r: {"run_id": r, "key": "m", "value": 2, "timestamp": 2, "step": 1}),
    "runs/log-parameter": ("POST", lambda h, e, r: {"run_id": r, "key": "p", "value": "v"}),
    "runs/log-batch": ("POST", lambda h, e, r: {"run_id": r, "metrics": [{"key": "b", "value": 1, "timestamp": 1}]}),
    "runs/set-tag": ("POST", lambda h, e, r: {"run_id": r, "key": "t", "value": "v"}),
    "runs/delete-tag": ("POST", lambda h, e, r: _then(
        h.post("/api/2.0/mlflow/runs/set-tag", json={"run_id": r, "key": "t", "value": "v"}), {"run_id": r, "key": "t"})),
    "runs/log-inputs": ("POST", lambda h, e, r: {"run_id": r, "datasets": [{"dataset": {
        "name": "d", "digest": "abc", "source_type": "code", "source": "{}"}}]}),
    "metrics/get-history": ("GET", lambda h, e, r: {"run_id": r, "metric_key": "m"}),
    "metrics/get-history-bulk-interval": ("GET", lambda h, e, r: {"run_ids": r, "metric_key": "m"}),
    "artifacts/list": ("GET", lambda h, e, r: {"run_id": r}),
    "logged-models/search": ("POST", lambda h, e, r: {"experiment_ids": [e]}),
}


def _normalise(body):
    """Drop what legitimately differs between two fresh objects: ids, names, times."""
    if isinstance(body, dict):
        return {k: _normalise(v) for k, v in body.items()
                if k not in ("experiment_id", "run_id", "run_uuid", "name", "run_name", "start_time", "end_time",
                             "creation_time", "last_update_time", "artifact_uri", "artifact_location",
                             "root_uri", "value", "next_page_token")}
    if isinstance(body, list):
        return [_normalise(v) for v in body]
    return body


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_every_route_under_ajax_api(http, route):
    method, build = ROUTES[route]
    path = route.split("#")[0]
    answers = []
    for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"):
        eid, rid = _seed(http)
        args = build(http, eid, rid)
        if method == "GET":
            r = http.get(f"{prefix}/{path}", params=args)
        else:
            r = http.post(f"{prefix}/{path}", json=args)
        assert r.headers["content-type"].startswith("application/json"), r.headers
        answers.append((r.status_code, _normalise(r.json())))
    assert answers[0] == answers[1]
    assert answers[0][0] == 200, answers


@pytest.mark.parametrize("prefix", ["/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts"])
def test_artifact_proxy_under_both_prefixes(http, prefix):
    path = f"{prefix}/artifacts/ajax/{unique('f')}.txt"
    assert http.put(path, content=b"data").status_code == 200
    assert http.get(path).content == b"data"
    assert http.get(f"{prefix}/artifacts", params={"path": "ajax"}).status_code == 200
    assert http.delete(path).status_code == 200
    assert http.get(path).status_code == 404


def test_unknown_route_is_an_mlflow_error(http):
    r = http.get("/api/2.0/mlflow/nope")
    assert r.status_code == 404 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    r = http.get("/api/2.0/mlflow/runs/create")  # wrong method
    assert r.status_code == 405 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND"
