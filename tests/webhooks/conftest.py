"""A real HTTP receiver on 127.0.0.1 that records what it is sent and answers as told."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import make_service

SECRET = "s3cret-key"
ALLOW_PRIVATE = "MODELYARD_WEBHOOK_ALLOW_PRIVATE_HOSTS"


@dataclass
class Delivery:
    headers: dict[str, str]
    body: str

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]

    @property
    def event(self) -> str:
        return f"{self.json['entity']}.{self.json['action']}"

    def signature_ok(self, secret: str = SECRET) -> bool:
        """MLflow's scheme: ``v1,`` + base64 HMAC-SHA256 of ``{delivery_id}.{timestamp}.{body}``."""
        content = f"{self.headers['x-mlflow-delivery-id']}.{self.headers['x-mlflow-timestamp']}.{self.body}"
        digest = hmac.new(secret.encode(), content.encode(), hashlib.sha256).digest()
        return self.headers.get("x-mlflow-signature") == "v1," + base64.b64encode(digest).decode()


@dataclass
class Receiver:
    url: str
    received: list[Delivery] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give, in order; then 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, n: int, timeout: float = 20.0, where: Callable[[Delivery], bool] = lambda d: True) -> list[Delivery]:
        """At least ``n`` matching deliveries, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [d for d in self.received if where(d)]
            if len(found) >= n or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def of(self, event: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.received if d.event == event]


@pytest.fixture
def service(db_uri: str, tmp_path):
    """A TrackingService over a fresh store whose webhooks may reach private hosts (our receivers are local)."""
    svc = make_service(db_uri, tmp_path, webhook_allow_private_hosts=True)
    yield svc
    svc.close()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1: servers and embedded stores started in the test may reach it.

    Private hosts are refused by default, so this sets
    MODELYARD_WEBHOOK_ALLOW_PRIVATE_HOSTS=true for the test.
    """
    monkeypatch.setenv(ALLOW_PRIVATE, "true")
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length).decode()
            rec = box["r"]
            with rec.lock:
                rec.received.append(Delivery({k.lower(): v for k, v in self.headers.items()}, body))
                status = rec.statuses.pop(0) if rec.statuses else 200
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 400 else b"boom")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box["r"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield box["r"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
