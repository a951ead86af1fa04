"""An app that fails after its answer is out, behind the guard: served by uvicorn in test_connection_reuse."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from modelyard.web.guard import Guard, GuardMiddleware


async def boom(request: Request) -> Response:
    raise RuntimeError("a bug in a handler")


async def ok(request: Request) -> Response:
    return PlainTextResponse("ok")


async def on_error(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("Internal error", status_code=500)


app = GuardMiddleware(Starlette(routes=[Route("/boom", boom), Route("/ok", ok)],
                                exception_handlers={Exception: on_error}), Guard(["127.0.0.1"]))
