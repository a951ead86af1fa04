"""The registry's and webhooks' operations in the table: each resolves to its handler, and the SDK resends
only those a repeat cannot harm when a proxy answers 502."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from modelyard.api import registry, webhooks
from modelyard.client import Client
from modelyard.errors import ModelyardError


def test_every_operation_resolves_to_its_handler() -> None:
    ops = [*registry.t, *webhooks.t]
    assert len(ops) == 29 and len({op.name for op in ops}) == len(ops)
    for op in ops:
        assert callable(op.resolve()), op.name
        if op.permission.field is not None:
            assert op.permission.field in op.request.__struct_fields__, op.name
    creates = {op.name for op in ops if not op.idempotent}
    assert creates == {"create_registered_model", "rename_registered_model", "create_model_version",
                       "create_webhook", "test_webhook"}


@pytest.fixture
def bad_gateway() -> Iterator[tuple[str, list[str]]]:
    """A proxy on 127.0.0.1 whose upstream is down: every request gets a 502; the paths it was sent."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            self.rfile.read(length)
            seen.append(f"{self.command} {self.path.partition('?')[0]}")
            self.send_response(502)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "11")
            self.end_headers()
            self.wfile.write(b"bad gateway")

        do_GET = do_POST = do_PATCH = do_DELETE = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_502_is_retried_only_where_a_repeat_does_no_harm(bad_gateway: tuple[str, list[str]]) -> None:
    url, seen = bad_gateway
    with Client(url) as c:
        retries = c._t.retries  # type: ignore[attr-defined]
        with pytest.raises(ModelyardError) as err:
            c.create_model_version("m", "runs:/r/model", run_id="r")
        assert err.value.status == 502
        assert seen == ["POST /api/2.0/mlflow/model-versions/create"]  # may have been done: not sent again
        seen.clear()
        with pytest.raises(ModelyardError):
            c.set_registered_model_alias("m", "champion", 1)
        assert seen == ["POST /api/2.0/mlflow/registered-models/alias"] * (retries + 1)
        seen.clear()
        with pytest.raises(ModelyardError):
            c.delete_webhook("w1")
        assert seen == ["DELETE /api/2.0/mlflow/webhooks/w1"] * (retries + 1)
