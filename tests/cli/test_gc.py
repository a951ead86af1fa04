"""``modelyard gc``: what it prints, its errors, and a purge under a running server (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from modelyard.client import Client
from modelyard.service.gc import DAY_MS
from tests.conftest import LiveServer

from .conftest import Seeded, assert_clean_error


def test_gc_dry_run_then_purge(cli, client: Client, seeded: Seeded, folder: Path):
    client.delete_run(seeded.bad_id)
    dry = cli("gc", "--dry-run")
    assert dry.exit_code == 0 and f"Would purge run {seeded.bad_id}." in dry.output
    assert "Would purge 1 run and 0 experiments." in dry.output
    assert client.get_run(seeded.bad_id).info.lifecycle_stage == "deleted"

    young = cli("gc", "--older-than", "1d", "--json")
    assert json.loads(young.output)["runs"] == []
    done = cli("gc", "--json")
    report = json.loads(done.output)
    assert done.exit_code == 0 and report["runs"] == [seeded.bad_id] and report["rows"]["metrics"] == 3
    assert cli("runs", "list", "--experiment-id", seeded.experiment_id, "--view", "all", "--json").output.count(
        seeded.bad_id) == 0
    assert cli("gc").output.strip() == "Purged 0 runs and 0 experiments."


def test_gc_errors_are_one_line(cli, client: Client, seeded: Seeded):
    assert_clean_error(cli("gc", "--run-ids", seeded.good_id), "not in the deleted lifecycle stage",
                       "modelyard runs delete")
    assert_clean_error(cli("gc", "--run-ids", "ffff"), "no run with id ffff")
    assert_clean_error(cli("gc", "--experiment-ids", "x1"), "'x1' is not an experiment id")
    assert_clean_error(cli("gc", "--older-than", "soon"), "'soon' is not an age", "30d")
    assert_clean_error(cli("gc", "--request-log", "--run-ids", seeded.good_id), "--request-log purges the request log only")
    assert_clean_error(cli("gc", "--request-log"), "MODELYARD_REQUEST_LOG_RETENTION_DAYS")
    assert client.get_run(seeded.good_id).info.lifecycle_stage == "active"


def test_gc_of_a_missing_store_creates_nothing(cli, folder: Path):
    assert_clean_error(cli("gc"), "No store at")
    assert not (folder / ".modelyard").exists()


def test_gc_comma_separated_and_repeated_ids(cli, client: Client, seeded: Seeded):
    for run_id in (seeded.good_id, seeded.bad_id, seeded.parent_id):
        client.delete_run(run_id)
    done = cli("gc", "--run-ids", f"{seeded.good_id},{seeded.bad_id}", "--run-ids", seeded.parent_id, "--json")
    assert sorted(json.loads(done.output)["runs"]) == sorted([seeded.good_id, seeded.bad_id, seeded.parent_id])


def test_gc_request_log(cli, client: Client, folder: Path, monkeypatch: pytest.MonkeyPatch):
    now = int(time.time() * 1000)
    rows = [{"request_id": f"r{age}", "model_name": "m", "model_version": "1", "timestamp_ms": now - age * DAY_MS,
             "latency_ms": 1.0, "inputs": [age], "outputs": [age]} for age in (60, 10)]
    client.log_inference_requests(rows)
    done = cli("gc", "--request-log", "--older-than", "30d", "--json")
    assert json.loads(done.output) == {"requests": 1, "feedback": 0}
    monkeypatch.setenv("MODELYARD_REQUEST_LOG_RETENTION_DAYS", "5")
    assert "Deleted 1 served requests" in cli("gc", "--request-log").output


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_gc_while_the_server_runs(kind: str, tmp_path: Path):
    """A run deleted through the server, with a proxied artifact, is purged by gc from another process."""
    from tests.conftest import fresh_database

    with fresh_database(kind, tmp_path) as uri:
        artifacts = tmp_path / "artifacts"
        server = LiveServer(uri, str(artifacts))
        try:
            api = server.url + "/api/2.0/mlflow"
            exp = httpx.post(f"{api}/experiments/create", json={"name": "served"}).json()["experiment_id"]
            run = httpx.post(f"{api}/runs/create", json={"experiment_id": exp}).json()["run"]["info"]
            keep = httpx.post(f"{api}/runs/create", json={"experiment_id": exp}).json()["run"]["info"]
            for info in (run, keep):
                path = info["artifact_uri"].split("mlflow-artifacts:/", 1)[1].lstrip("/")
                put = httpx.put(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{path}/f.txt", content=b"x")
                assert put.status_code == 200, put.text
            assert (artifacts / exp / run["run_id"] / "artifacts" / "f.txt").is_file()
            assert httpx.post(f"{api}/runs/delete", json={"run_id": run["run_id"]}).status_code == 200

            done = subprocess.run(
                [sys.executable, "-m", "modelyard.cli", "gc", "--backend-store-uri", uri,
                 "--artifacts-destination", str(artifacts)],
                capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            assert f"Purged run {run['run_id']}." in done.stdout
            assert f"Deleted the files at {run['artifact_uri']}." in done.stdout

            assert not (artifacts / exp / run["run_id"]).exists()
            assert (artifacts / exp / keep["run_id"] / "artifacts" / "f.txt").is_file()
            gone = httpx.get(f"{api}/runs/get", params={"run_id": run["run_id"]})
            assert gone.status_code == 404 and gone.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
            assert httpx.get(f"{api}/runs/get", params={"run_id": keep["run_id"]}).status_code == 200
        finally:
            server.stop()
