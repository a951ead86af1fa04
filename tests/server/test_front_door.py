"""One middleware chain for every request: an added middleware sees MLflow's hot calls, and
``/metrics`` and ``/ready`` report on them.

The app runs in process under a real uvicorn (the same protocol stack as ``modelyard
server``: :func:`modelyard.web.http_limits.limited_http`) on 127.0.0.1, and the official
``mlflow`` client talks to it.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text
from starlette.types import ASGIApp, Receive, Scope, Send

from modelyard.server import create_app
from modelyard.settings import Settings
from modelyard.web.http_limits import limited_http

from ..conftest import fresh_database

API = "/api/2.0/mlflow"


class Counting:
    """A middleware an operator might add: counts the requests it sees by (method, path)."""

    seen: ClassVar[list[tuple[str, str]]] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            Counting.seen.append((scope["method"], scope["path"]))
        await self.app(scope, receive, send)


class InProcess:
    """``app`` under uvicorn in a thread of this process, on a free port of 127.0.0.1."""

    def __init__(self, app: Any) -> None:
        self.app = app
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", http=limited_http(30))
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)
        self.thread.start()
        for _ in range(600):
            if self.server.started:
                return
            self.thread.join(0.05)
        raise RuntimeError("uvicorn did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture
def served(db_uri: str, tmp_path) -> Iterator[InProcess]:
    settings = Settings(backend_store_uri=db_uri, artifacts_destination=str(tmp_path / "artifacts"),
                        background_workers=False)
    app = create_app(settings)
    app.add_middleware(Counting)
    Counting.seen = []
    live = InProcess(app)
    try:
        yield live
    finally:
        live.stop()
        app.state.service.close()


def test_an_added_middleware_sees_the_official_clients_log_metric(served):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=served.url)
    exp = client.create_experiment(f"door-{uuid.uuid4().hex}")
    run_id = client.create_run(exp).info.run_id
    Counting.seen = []
    client.log_metric(run_id, "loss", 0.25, step=3)
    client.log_batch(run_id, metrics=[], params=[], tags=[])
    assert ("POST", f"{API}/runs/log-metric") in Counting.seen
    assert [m.value for m in client.get_metric_history(run_id, "loss")] == [0.25]
    # Every hot call passes the middleware, through either prefix.
    Counting.seen = []
    with httpx.Client(base_url=served.url) as http:
        for path, body in [("/runs/set-tag", {"run_id": run_id, "key": "t", "value": "v"}),
                           ("/runs/log-parameter", {"run_id": run_id, "key": "p", "value": "1"}),
                           ("/runs/update", {"run_id": run_id, "status": "FINISHED"})]:
            assert http.post(f"/ajax-api/2.0/mlflow{path}", json=body).status_code == 200, path
    assert [p for _, p in Counting.seen] == [f"/ajax-api/2.0/mlflow{p}" for p in
                                               ("/runs/set-tag", "/runs/log-parameter", "/runs/update")]


def test_the_lifespan_is_not_a_request_in_flight(served):
    """Hot calls run on the event loop only while no other request is in flight: the lifespan, which
    lasts as long as the server, must not count as one (it did, and every call took the writer thread)."""
    from modelyard.server.hotpath import HotCalls

    with httpx.Client(base_url=served.url) as http:
        exp = http.post(f"{API}/experiments/create", json={"name": f"l-{uuid.uuid4().hex}"}).json()["experiment_id"]
        assert http.post(f"{API}/runs/create", json={"experiment_id": exp}).status_code == 200
    layer = served.app.middleware_stack
    while not isinstance(layer, HotCalls):
        layer = layer.app
    assert layer.others == 0


def samples(page: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of the samples named ``name`` on a Prometheus text page, the labels as
    ``a="x",b="y"`` in the order of their names."""
    out = {}
    for m in re.finditer(rf"^{re.escape(name)}(?:{{(.*)}})? (\S+)$", page, re.M):
        labels = sorted(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
        out[",".join(f'{k}="{v}"' for k, v in labels)] = float(m.group(2))
    return out


def test_metrics_count_every_operation_and_ready_checks_the_store(served):
    with httpx.Client(base_url=served.url) as http:
        exp = http.post(f"{API}/experiments/create", json={"name": f"m-{uuid.uuid4().hex}"}).json()["experiment_id"]
        run_id = http.post(f"{API}/runs/create", json={"experiment_id": exp}).json()["run"]["info"]["run_id"]
        for step in range(3):
            r = http.post(f"{API}/runs/log-metric",
                          json={"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": step})
            assert r.status_code == 200
        assert http.post(f"{API}/runs/log-metric", json={"run_id": run_id}).status_code == 400
        assert http.get(f"{API}/runs/get", params={"run_id": run_id}).status_code == 200
        assert http.get("/no/such/path").status_code == 404
        assert http.post(f"{API}/runs/set-tag", json={}, headers={"Host": "evil.example"}).status_code == 403
        ready = http.get("/ready")
        assert ready.status_code == 200 and ready.text == "OK"
        assert http.get("/ready", headers={"Host": "kubelet.internal"}).status_code == 200  # a probe: any Host
        page = http.get("/metrics")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    counts = samples(page.text, "modelyard_http_requests_total")
    assert counts[f'method="POST",operation="{API}/runs/log-metric",status="200"'] == 3
    assert counts[f'method="POST",operation="{API}/runs/log-metric",status="400"'] == 1
    assert counts[f'method="GET",operation="{API}/runs/get",status="200"'] == 1
    assert counts['method="GET",operation="unmatched",status="404"'] == 1
    assert counts['method="POST",operation="unmatched",status="403"'] == 1  # refused by the guard, still counted
    latency = samples(page.text, "modelyard_http_request_duration_seconds_count")
    assert latency[f'method="POST",operation="{API}/runs/log-metric"'] == 4
    assert samples(page.text, "modelyard_writer_queue_depth")[""] == 0  # nothing queued once answered
    assert samples(page.text, "modelyard_db_pool_checked_out")[""] >= 0
    assert samples(page.text, "modelyard_db_pool_idle")[""] >= 0


def test_ready_answers_503_when_the_store_does_not(tmp_path):
    """A PostgreSQL database dropped under the running server: /ready says so, /health still answers."""
    with fresh_database("postgresql", tmp_path) as uri:
        settings = Settings(backend_store_uri=uri, artifacts_destination=str(tmp_path / "artifacts"),
                            background_workers=False)
        app = create_app(settings)
        live = InProcess(app)
        try:
            with httpx.Client(base_url=live.url, timeout=30) as http:
                assert http.get("/ready").status_code == 200
                name = uri.rsplit("/", 1)[1]
                admin = create_engine(uri.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
                                      + "/postgres", isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                admin.dispose()
                r = http.get("/ready")
                assert r.status_code == 503 and r.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
                assert "--backend-store-uri" in r.json()["message"]
                assert http.get("/health").status_code == 200  # alive all the same
        finally:
            live.stop()
            app.state.service.close()
