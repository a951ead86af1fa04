"""Plain ASGI for the prediction endpoint: read a header, send one response.

A single-row prediction costs less than Starlette's ``Request``/``Response``
objects and middleware around it, so ``POST /invocations`` speaks ASGI directly
with these helpers and :class:`ServingApp` hands it the request before
Starlette's middleware stack (unless someone added middleware of their own),
behind the guard (:mod:`modelyard.web.guard`) like every request. Responses are
byte for byte what ``starlette.responses.Response`` sends. The body is read under
the size limit by :func:`modelyard.web.request_body.receive_body`.

A client that goes away before its body is whole has not asked for anything:
:class:`ServingApp` hands ``POST`` handlers a ``receive`` that raises
:class:`ClientGone` on ``http.disconnect``. It is a ``BaseException``, as
``asyncio.CancelledError`` is, so the handlers' ``except Exception`` (the model
refused this input: 400) does not take it for bad input: the request ends
unanswered, with no prediction, and counts under no status in ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..web.guard import Guard, GuardMiddleware

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


class ClientGone(BaseException):
    """The client disconnected before its request body was whole: abandon the request (see the module doc)."""


def watched(receive: Receive) -> Receive:
    """``receive`` raising :class:`ClientGone` instead of returning ``http.disconnect``."""
    async def receive_or_leave() -> Message:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        return message

    return receive_or_leave


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of request header ``name`` (lower case, as ASGI servers give them)."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


async def respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes,
                  content_type: bytes = b"application/json") -> None:
    """Send ``body``; ``headers`` first, then content-length and content-type (Starlette's order)."""
    headers.append((b"content-length", str(len(body)).encode()))
    headers.append((b"content-type", content_type))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Endpoint:
    """An ASGI handler as a Starlette route endpoint (a bound method would be wrapped as a
    ``Request`` handler)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handler(scope, receive, send)


class ServingApp(Starlette):
    """Starlette behind :class:`..guard.GuardMiddleware`, with ``POST`` to a few exact paths then handed
    straight to their ASGI handlers.

    Those handlers answer every error themselves; everything else (other methods,
    other paths, lifespan) goes through Starlette as usual. Middleware added with
    ``add_middleware`` turns the shortcut off so that it sees every request, and
    leaves disconnects to Starlette's ``ClientDisconnect`` (see the module doc).
    ``guard`` and ``request_timeout`` are set by ``create_app`` (the HTTP protocol reads the latter).
    """

    direct: dict[str, Handler]
    guard: Guard
    request_timeout: float
    front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is None:
            self.front = GuardMiddleware(self._behind_guard, self.guard)
        await self.front(scope, receive, send)

    async def _behind_guard(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not self.user_middleware:
            handler = self.direct.get(scope["path"]) or super().__call__
            scope["app"] = self
            try:
                await handler(scope, watched(receive), send)
            except ClientGone:
                pass  # nothing to answer, and no one to answer to
            return
        await super().__call__(scope, receive, send)
