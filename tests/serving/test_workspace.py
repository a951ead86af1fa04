"""Serving in a workspace: ``MLFLOW_WORKSPACE=prod modelyard serve models:/m@champion`` against a real tracking
server (SQLite) where ``dev`` and ``prod`` each hold a model ``m`` loads prod's ``m`` and logs its requests under
prod's ``m`` only."""

from __future__ import annotations

import time

import httpx

import modelyard as my

from .conftest import ServeProcess, register


def test_serve_loads_and_logs_the_model_of_its_workspace(sqlite_live_server, monkeypatch):
    url = sqlite_live_server.url
    for team in ("dev", "prod"):
        assert httpx.post(f"{url}/api/3.0/mlflow/workspaces", json={"name": team}).status_code == 201
    # dev's m: one version, champion -> 1; prod's m: two versions, champion -> 2 (a different estimator).
    # The SDK reads MLFLOW_WORKSPACE on every call, its fluent client too.
    monkeypatch.setenv("MLFLOW_WORKSPACE", "dev")
    register(url, "m", 1)
    monkeypatch.setenv("MLFLOW_WORKSPACE", "prod")
    prod = register(url, "m", versions=2)
    client = my.Client(url)
    client.set_registered_model_alias("m", "champion", 2)

    proc = ServeProcess("models:/m@champion", url, "--poll-interval", "0", env={"MLFLOW_WORKSPACE": "prod"})
    try:
        body = {"dataframe_records": prod.frame.iloc[:40].to_dict(orient="records")}
        answers = [httpx.post(proc.url + "/invocations", json=body) for _ in range(3)]
        rows: list = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(rows) < 3:
            rows = client.search_inference_requests("m", "2")
            time.sleep(0.2)
    finally:
        proc.stop()
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-model-version"] == "2"
        assert answer.json()["predictions"] == prod.versions[2].predict(prod.frame.iloc[:40]).tolist()
    ids = sorted(a.headers["x-request-id"] for a in answers)
    # Listed under prod's m, with the model's own name there; not under dev's m nor the default workspace's.
    assert sorted(r.request_id for r in rows) == ids
    assert {(r.model_name, r.model_version) for r in rows} == {("m", "2")}
    assert client.search_inference_requests("m", "1") == []
    try:
        for other in ("dev", None):
            if other:
                monkeypatch.setenv("MLFLOW_WORKSPACE", other)
            else:
                monkeypatch.delenv("MLFLOW_WORKSPACE")
            for version in ("1", "2"):
                assert client.search_inference_requests("m", version) == []
    finally:
        client.close()
