"""Request bodies are limited while they stream in: a chunked body is cut off once past the limit."""

from __future__ import annotations

import hashlib
import json
import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LiveServer

REQUEST_LIMIT = 4096
BATCH_LIMIT = 3000
PART_LIMIT = 10_000
ARTIFACT_LIMIT = 20_000


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("limits")
    env = {
        "MODELYARD_MAX_REQUEST_BYTES": str(REQUEST_LIMIT),
        "MODELYARD_MAX_LOG_BATCH_BYTES": str(BATCH_LIMIT),
        "MODELYARD_MAX_UPLOAD_PART_BYTES": str(PART_LIMIT),
        "MODELYARD_MAX_ARTIFACT_UPLOAD_BYTES": str(ARTIFACT_LIMIT),
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        srv = LiveServer(f"sqlite:///{folder / 'db.sqlite'}", str(folder / "artifacts"))
    srv.artifacts = folder / "artifacts"  # type: ignore[attr-defined]
    yield srv
    srv.stop()


def chunked(data: bytes, size: int = 1000) -> Iterator[bytes]:
    """A body httpx sends with Transfer-Encoding: chunked (no Content-Length)."""
    for i in range(0, len(data), size):
        yield data[i:i + size]


def new_run(server: LiveServer) -> str:
    api = server.url + "/api/2.0/mlflow"
    exp = httpx.post(f"{api}/experiments/create", json={"name": uuid.uuid4().hex}).json()["experiment_id"]
    return httpx.post(f"{api}/runs/create", json={"experiment_id": exp}).json()["run"]["info"]["run_id"]


def params_of(server: LiveServer, run_id: str) -> list:
    run = httpx.get(server.url + "/api/2.0/mlflow/runs/get", params={"run_id": run_id}).json()["run"]
    return run["data"].get("params", [])


def raw_request(server: LiveServer, head: str, first_chunk: bytes) -> tuple[int, dict]:
    """Send a chunked request's head and one chunk, never its end; return the answer's status and JSON.

    A server that read the whole body before checking would never answer (the
    socket timeout then fails the test).
    """
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(head.encode() + b"Transfer-Encoding: chunked\r\n\r\n")
        sock.sendall(f"{len(first_chunk):x}\r\n".encode() + first_chunk + b"\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        header, _, body = data.partition(b"\r\n\r\n")
        lines = header.decode().split("\r\n")
        length = next(int(v) for k, _, v in (h.partition(": ") for h in lines[1:]) if k.lower() == "content-length")
        while len(body) < length:
            body += sock.recv(65536)
        return int(lines[0].split()[1]), json.loads(body[:length])


def test_chunked_json_body_over_the_limit_is_refused(server):
    run_id = new_run(server)
    body = json.dumps({"run_id": run_id, "key": "p", "value": "x" * 5000}).encode()
    r = httpx.post(server.url + "/api/2.0/mlflow/runs/log-parameter", content=chunked(body),
                   headers={"content-type": "application/json"})
    assert r.status_code == 413
    err = r.json()
    assert err["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert str(REQUEST_LIMIT) in err["message"] and "MODELYARD_MAX_REQUEST_BYTES" in err["message"]
    assert params_of(server, run_id) == []


def test_chunked_json_body_under_the_limit_is_read_whole(server):
    run_id = new_run(server)
    body = json.dumps({"run_id": run_id, "key": "p", "value": "y" * 2500}).encode()
    r = httpx.post(server.url + "/api/2.0/mlflow/runs/log-parameter", content=chunked(body, 100),
                   headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    assert params_of(server, run_id) == [{"key": "p", "value": "y" * 2500}]


def test_declared_length_over_the_limit_is_refused_the_same_way(server):
    run_id = new_run(server)
    r = httpx.post(server.url + "/api/2.0/mlflow/runs/log-parameter",
                   json={"run_id": run_id, "key": "p", "value": "x" * 5000})
    assert r.status_code == 413 and r.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert params_of(server, run_id) == []


def test_server_answers_before_an_endless_chunked_body_ends(server):
    head = ("POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\n")
    status, err = raw_request(server, head, b"[" + b" " * (REQUEST_LIMIT + 100))
    assert status == 413 and err["error_code"] == "REQUEST_LIMIT_EXCEEDED"


def test_chunked_log_batch_over_mlflows_limit_answers_400_like_mlflow(server):
    run_id = new_run(server)
    body = json.dumps({"run_id": run_id, "params": [{"key": f"k{i}", "value": "v" * 200} for i in range(20)]})
    r = httpx.post(server.url + "/api/2.0/mlflow/runs/log-batch", content=chunked(body.encode()),
                   headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE" and str(BATCH_LIMIT) in r.json()["message"]
    assert params_of(server, run_id) == []


def test_chunked_webhook_body_over_the_limit_is_refused(server):
    body = json.dumps({"name": "w", "url": "https://example.com/hook", "description": "d" * 5000,
                       "events": [{"entity": "REGISTERED_MODEL", "action": "CREATED"}]}).encode()
    r = httpx.post(server.url + "/api/2.0/mlflow/webhooks", content=chunked(body))
    assert r.status_code == 413 and r.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    listed = httpx.get(server.url + "/api/2.0/mlflow/webhooks", params={"include_all": "true"}).json()
    assert listed.get("webhooks", []) == []


def _upload(server: LiveServer, name: str, parts: int = 1) -> dict:
    url = server.url + f"/api/2.0/mlflow-artifacts/mpu/create/1/{name}/artifacts"
    created = httpx.post(url, json={"path": f"/tmp/{name}.bin", "num_parts": parts})
    assert created.status_code == 200, created.text
    return created.json()


def test_upload_part_over_the_part_limit_is_refused_and_not_staged(server):
    created = _upload(server, "big")
    staged = server.artifacts / ".modelyard-uploads" / created["upload_id"]
    for content in (b"z" * (PART_LIMIT + 1), chunked(b"z" * (PART_LIMIT + 5000))):
        r = httpx.put(created["credentials"][0]["url"], content=content)
        assert r.status_code == 413
        err = r.json()
        assert err["error_code"] == "REQUEST_LIMIT_EXCEEDED"
        assert str(PART_LIMIT) in err["message"] and "MODELYARD_MAX_UPLOAD_PART_BYTES" in err["message"]
        assert sorted(p.name for p in staged.iterdir()) == ["parts"]  # only the upload's marker


def test_endless_chunked_upload_part_is_cut_off(server):
    created = _upload(server, "endless")
    path = created["credentials"][0]["url"].split(str(server.port), 1)[1]
    status, err = raw_request(server, f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"q" * (PART_LIMIT + 1))
    assert status == 413 and err["error_code"] == "REQUEST_LIMIT_EXCEEDED"


def test_upload_parts_within_the_limit_join_whole(server):
    created = _upload(server, "ok", parts=2)
    one, two = b"a" * PART_LIMIT, b"b" * 1234
    for cred, content in zip(created["credentials"], (chunked(one, 777), two)):
        r = httpx.put(cred["url"], content=content)
        assert r.status_code == 200, r.text
        body = one if cred["part_number"] == 1 else two
        assert r.headers["etag"] == f'"{hashlib.md5(body).hexdigest()}"'
    done = httpx.post(server.url + "/api/2.0/mlflow-artifacts/mpu/complete/1/ok/artifacts",
                      json={"path": "/tmp/ok.bin", "upload_id": created["upload_id"],
                            "parts": [{"part_number": 1}, {"part_number": 2}]})
    assert done.status_code == 200, done.text
    assert (server.artifacts / "1" / "ok" / "artifacts" / "ok.bin").read_bytes() == one + two


def test_proxied_artifact_upload_over_its_limit_is_refused_and_not_written(server):
    url = server.url + "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/"
    r = httpx.put(url + "big.bin", content=chunked(b"x" * (ARTIFACT_LIMIT + 1)))
    assert r.status_code == 413
    assert "MODELYARD_MAX_ARTIFACT_UPLOAD_BYTES" in r.json()["message"]
    assert not (server.artifacts / "1" / "r" / "artifacts" / "big.bin").exists()
    assert httpx.put(url + "small.bin", content=chunked(b"s" * ARTIFACT_LIMIT)).status_code == 200
    assert (server.artifacts / "1" / "r" / "artifacts" / "small.bin").read_bytes() == b"s" * ARTIFACT_LIMIT


def test_server_answers_before_an_endless_chunked_logged_model_body_ends(server):
    head = ("POST /api/2.0/mlflow/logged-models HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\n")
    status, err = raw_request(server, head, b"{" + b" " * (REQUEST_LIMIT + 100))
    assert status == 413 and err["error_code"] == "REQUEST_LIMIT_EXCEEDED"


def test_server_answers_before_an_endless_chunked_trigger_fire_ends(server):
    head = ("POST /api/2.0/modelyard/pipelines/triggers/fire HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\n")
    status, err = raw_request(server, head, b"{" + b" " * (REQUEST_LIMIT + 100))
    assert status == 413 and err["error_code"] == "REQUEST_LIMIT_EXCEEDED"
