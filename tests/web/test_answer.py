"""The front door's one ``send`` wrapper per request (:mod:`modelyard.web.answer`), through the real
middleware that share it: the metrics (status), the guard (headers, an error after a complete answer)
and the error middleware (a 500 unless the answer began)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from modelyard.server.metrics import MetricsMiddleware
from modelyard.web.answer import Answer, Headers
from modelyard.web.guard import Guard, GuardMiddleware
from modelyard.web.stack import ErrorMiddleware


class Recorder:
    """What MetricsMiddleware reports, kept as (operation, method, status)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int]] = []

    def observe(self, operation: str, method: str, status: int, seconds: float) -> None:
        self.seen.append((operation, method, status))


async def inner(scope: Scope, receive: Receive, send: Send) -> None:
    path = scope["path"]
    if path == "/fail-before":
        raise RuntimeError("before the answer")
    headers = [(b"content-type", b"text/plain")]
    if path == "/own-frame":
        headers.append((b"X-Frame-Options", b"DENY"))
    await send({"type": "http.response.start", "status": 418, "headers": headers})
    await send({"type": "http.response.body", "body": b"tea"})
    if path == "/fail-after":
        raise RuntimeError("after the answer")


def chain() -> tuple[Any, Recorder]:
    recorder = Recorder()
    app = MetricsMiddleware(GuardMiddleware(ErrorMiddleware(inner), Guard(["testserver"])), recorder)  # type: ignore[arg-type]
    return app, recorder


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_one_wrapper_serves_every_layer(anyio_backend: str) -> None:
    app, recorder = chain()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        plain = await client.get("/plain")
        own = await client.get("/own-frame")
        before = await client.get("/fail-before")
        after = await client.get("/fail-after")
    assert (plain.status_code, plain.text) == (418, "tea")
    assert plain.headers["x-frame-options"] == "SAMEORIGIN"
    assert plain.headers["x-content-type-options"] == "nosniff"
    # An answer that sets one of the guard's headers keeps its own, once, and gets the others.
    assert own.headers.get_list("x-frame-options") == ["DENY"]
    assert own.headers["x-content-type-options"] == "nosniff"
    # Failed before its answer: the error middleware's 500, with the guard's headers, counted as 500.
    assert before.status_code == 500
    assert before.headers["x-frame-options"] == "SAMEORIGIN"
    # Failed after a complete answer: the answer stands (the guard logs the error, raises nothing).
    assert (after.status_code, after.text) == (418, "tea")
    assert recorder.seen == [("unmatched", "GET", 418), ("unmatched", "GET", 418), ("unmatched", "GET", 500),
                             ("unmatched", "GET", 418)]


def test_around_reuses_the_requests_answer() -> None:
    async def send(message: Any) -> None:
        pass

    answer = Answer.around(send)
    assert Answer.around(answer) is answer
    assert Answer.around(send) is not answer
    assert Headers.of([(b"X-A", b"1")]).names == frozenset({b"x-a"})
