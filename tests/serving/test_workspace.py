"""Serving in a workspace: ``MLFLOW_WORKSPACE=prod modelyard serve models:/m@champion`` against a real tracking
server (SQLite) where ``dev`` and ``prod`` each hold a model ``m`` loads prod's ``m`` and logs its requests under
prod's ``m`` only."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

import modelyard as my

from .conftest import ServeProcess, register


def _client(url: str, workspace: str, monkeypatch: pytest.MonkeyPatch) -> my.Client:
    monkeypatch.setenv("MLFLOW_WORKSPACE", workspace)
    try:
        return my.Client(url)
    finally:
        monkeypatch.delenv("MLFLOW_WORKSPACE")


def test_serve_loads_and_logs_the_model_of_its_workspace(sqlite_live_server, monkeypatch):
    url = sqlite_live_server.url
    for team in ("dev", "prod"):
        assert httpx.post(f"{url}/api/3.0/mlflow/workspaces", json={"name": team}).status_code == 201
    # dev's m: one version, champion -> 1; prod's m: two versions, champion -> 2 (a different estimator).
    # dev's is made in another process: the SDK's fluent client of a tracking URI keeps the workspace it began with.
    made = subprocess.run([sys.executable, "-c", f"from tests.serving.conftest import register; register({url!r}, 'm', 1)"],
                          env={**os.environ, "MLFLOW_WORKSPACE": "dev"}, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr[-3000:]
    monkeypatch.setenv("MLFLOW_WORKSPACE", "prod")
    prod = register(url, "m", versions=2)
    monkeypatch.delenv("MLFLOW_WORKSPACE")
    prod_client = _client(url, "prod", monkeypatch)
    prod_client.set_registered_model_alias("m", "champion", 2)

    proc = ServeProcess("models:/m@champion", url, "--poll-interval", "0", env={"MLFLOW_WORKSPACE": "prod"})
    try:
        body = {"dataframe_records": prod.frame.iloc[:40].to_dict(orient="records")}
        answers = [httpx.post(proc.url + "/invocations", json=body) for _ in range(3)]
        rows: list = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(rows) < 3:
            rows = prod_client.search_inference_requests("m", "2")
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
    assert prod_client.search_inference_requests("m", "1") == []
    prod_client.close()
    dev_client = _client(url, "dev", monkeypatch)
    default_client = my.Client(url)
    try:
        for other in (dev_client, default_client):
            for version in ("1", "2"):
                assert other.search_inference_requests("m", version) == []
    finally:
        dev_client.close()
        default_client.close()
