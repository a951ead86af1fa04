"""Plain ASGI for the prediction endpoint: read a header, send one response.

A single-row prediction costs less than Starlette's ``Request``/``Response``
objects around it, so ``POST /invocations`` speaks ASGI directly with these
helpers and :class:`ServingApp` hands it the request in front of Starlette's
router: behind the same middleware as every request (the guard,
:mod:`modelyard.web.guard`, then Starlette's and any added with ``add_middleware``). Responses are
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
from ..web.stack import starlette_stack
from .tokens import TokenMiddleware

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
    """Starlette behind :class:`..guard.GuardMiddleware`, with ``POST`` to a few exact paths handed
    straight to their ASGI handlers, inside every middleware (:meth:`build_middleware_stack`).

    Those handlers answer every error themselves; everything else (other methods,
    other paths, lifespan) goes through Starlette's router as usual. ``guard`` is set by ``create_app``.
    """

    direct: dict[str, Handler]
    guard: Guard
    tokens: tuple[str, ...] = ()  # with tokens, every request but the probes needs one (:mod:`.tokens`)

    def build_middleware_stack(self) -> ASGIApp:
        """From the outside in: the guard (then authentication, when there is one), Starlette's error
        middleware, the middleware added with ``add_middleware``, :class:`DirectCalls`, Starlette's
        exception handlers and the router."""
        app = starlette_stack(self, lambda router: DirectCalls(router, self))
        if self.tokens:
            app = TokenMiddleware(app, self.tokens)
        return GuardMiddleware(app, self.guard)


class DirectCalls:
    """ASGI: a ``POST`` to a path of ``owner.direct`` goes to its handler, everything else on to ``app``;
    every ``POST`` with a ``receive`` that raises :class:`ClientGone` (see the module doc)."""

    def __init__(self, app: ASGIApp, owner: ServingApp) -> None:
        self.app = app
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self.owner.direct.get(scope["path"]) or self.app
            try:
                await handler(scope, watched(receive), send)
            except ClientGone:
                pass  # nothing to answer, and no one to answer to
            return
        await self.app(scope, receive, send)
