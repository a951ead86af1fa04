"""Defect 7 of issue 13, the connection's part: after an error the connection is usable, or closed with a word.

Raw keep-alive sockets and plain clients (``http.client``, ``requests``) against a live
server: each error is followed by a request on the same connection, which must be
answered. A 500 used to drop the connection (uvicorn closes it when an app raises after
answering, as Starlette's error middleware does); the guard now takes that exception,
which is served here by a real uvicorn over an app that fails on purpose.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests

from ..conftest import LiveServer, free_port
from .raw import Conn, request, server_with

API = "/api/2.0/mlflow"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with server_with(tmp_path_factory.mktemp("reuse")) as live:
        yield live


def new_run(server: LiveServer) -> str:
    exp = httpx.post(server.url + f"{API}/experiments/create", json={"name": f"reuse-{time.time_ns()}"}).json()
    run = httpx.post(server.url + f"{API}/runs/create", json={"experiment_id": exp["experiment_id"]}).json()
    return str(run["run"]["info"]["run_id"])


def test_the_connection_answers_again_after_each_error(server):
    run_id = new_run(server)
    js = "application/json"
    errors = [
        (request("POST", f"{API}/experiments/create", b"{nope", content_type=js), 400),  # through the app
        (request("POST", f"{API}/runs/log-metric", b'{"run_id": "' + run_id.encode() + b'"}', content_type=js), 400),
        (request("GET", f"{API}/runs/get?run_id=0123456789abcdef0123456789abcdef"), 404),
        (request("GET", f"{API}/no-such-endpoint"), 404),
        (request("GET", f"{API}/runs/log-metric"), 405),
        (request("POST", f"{API}/experiments/create", b'{"name": "x"}', content_type="text/plain"), 415),
        (request("POST", f"{API}/runs/set-tag", b"{}", host="evil.example", content_type=js), 403),
        (request("DELETE", "/api/2.0/mlflow-artifacts/artifacts/x", origin="http://evil.example"), 403),
    ]
    conn = Conn(server)
    try:
        for raw, status in errors:
            conn.send(raw)
            got, headers, body = conn.response()
            assert got == status, (raw[:60], body)
            assert json.loads(body)["error_code"]
            assert "connection" not in headers
            conn.send(request("GET", f"{API}/runs/get?run_id={run_id}"))
            assert conn.response()[0] == 200, raw[:60]
    finally:
        conn.close()


def test_an_over_limit_log_batch_is_answered_to_plain_clients(server):
    run_id = new_run(server)
    big = json.dumps({"run_id": run_id, "params": [{"key": f"p{i}", "value": "v" * 400} for i in range(3000)]})
    assert len(big) > 1_000_000  # max_log_batch_bytes, as MLflow
    with requests.Session() as session:  # writes its whole body before it reads
        refused = session.post(server.url + f"{API}/runs/log-batch", data=big,
                               headers={"Content-Type": "application/json"})
        assert refused.status_code == 400 and refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert session.get(server.url + f"{API}/runs/get", params={"run_id": run_id}).status_code == 200
    plain = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for _ in range(2):  # twice on one connection
            plain.request("POST", f"{API}/runs/log-batch", body=big.encode(),
                          headers={"Content-Type": "application/json"})
            answer = plain.getresponse()
            assert answer.status == 400 and json.loads(answer.read())["error_code"] == "INVALID_PARAMETER_VALUE"
    finally:
        plain.close()
    params = httpx.get(server.url + f"{API}/runs/get", params={"run_id": run_id}).json()["run"]["data"]
    assert "params" not in params or params["params"] == []


@pytest.fixture
def failing(tmp_path: Path) -> Iterator[str]:
    """uvicorn behind our connection limits over ``failing_app``: ``/boom`` raises after Starlette answered 500."""
    port = free_port()
    log = open(tmp_path / "uvicorn.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "tests.security.failing_app:app", "--port", str(port),
                             "--http", "modelyard.web.http_limits:default_http", "--log-level", "warning"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/ok", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError((tmp_path / "uvicorn.log").read_text())
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_a_500_keeps_the_connection(failing):
    port = int(failing.rsplit(":", 1)[1])
    target = type("Target", (), {"port": port})()
    conn = Conn(target)
    try:
        for _ in range(3):
            conn.send(request("GET", "/boom"))
            status, _, body = conn.response()
            assert status == 500 and body == b"Internal error"
            conn.send(request("GET", "/ok"))
            assert conn.response()[0] == 200
    finally:
        conn.close()
