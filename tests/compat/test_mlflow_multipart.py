"""MLflow's client uploads big artifacts in parts through our proxy, whatever the destination."""

from __future__ import annotations

import os

import mlflow
import pytest
from mlflow import MlflowClient

from tests.conftest import LiveServer


@pytest.fixture
def server(tmp_path):
    srv = LiveServer(f"sqlite:///{tmp_path / 'db.sqlite'}", str(tmp_path / "artifacts"))
    yield srv
    srv.stop()


def test_multipart_upload_through_the_proxy(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "1")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(5 * 1024 * 1024))
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    client = MlflowClient(tracking_uri=server.url)
    run_id = client.create_run(client.create_experiment("mpu")).info.run_id
    big = tmp_path / "weights.bin"
    payload = os.urandom(12 * 1024 * 1024 + 123)  # three parts, the last one short
    big.write_bytes(payload)

    client.log_artifact(run_id, str(big), "model")

    [info] = client.list_artifacts(run_id, "model")
    assert (info.path, info.file_size) == ("model/weights.bin", len(payload))
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="model/weights.bin",
                                                tracking_uri=server.url, dst_path=str(tmp_path / "dl"))
    with open(local, "rb") as fh:
        assert fh.read() == payload
    staging = tmp_path / "artifacts" / ".modelyard-uploads"
    assert staging.is_dir() and not any(staging.iterdir())  # parts were staged, then joined and removed


def test_multipart_rejects_unknown_uploads_and_missing_parts(server):
    import httpx

    base = server.url + "/api/2.0/mlflow-artifacts/mpu"
    created = httpx.post(f"{base}/create/1/abc/artifacts", json={"path": "/tmp/f.bin", "num_parts": 2}).json()
    upload_id = created["upload_id"]
    assert [c["part_number"] for c in created["credentials"]] == [1, 2]
    assert httpx.put(created["credentials"][0]["url"], content=b"part one").status_code == 200
    stray = httpx.put(f"{base}/part/{upload_id}/7", content=b"x")
    assert stray.status_code == 400 and "parts 1 to 2" in stray.json()["message"]
    missing = httpx.post(f"{base}/complete/1/abc/artifacts",
                         json={"path": "/tmp/f.bin", "upload_id": upload_id,
                               "parts": [{"part_number": 1}, {"part_number": 2}]})
    assert missing.status_code == 400 and "Part 2" in missing.json()["message"]
    bogus = httpx.put(f"{base}/part/{'0' * 32}/1", content=b"x")
    assert bogus.status_code == 400 and bogus.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    escape = httpx.post(f"{base}/create/../../etc", json={"path": "/tmp/f.bin", "num_parts": 1})
    assert escape.status_code in (400, 404)
    assert httpx.post(f"{base}/abort/1/abc/artifacts", json={"path": "/tmp/f.bin", "upload_id": upload_id}).status_code == 200
