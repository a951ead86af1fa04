"""Starlette's middleware stack with a layer of ours just outside the router.

Both web apps (``server/`` and ``serving/``) answer their fast calls in a layer placed between
Starlette's error middleware (and whatever ``add_middleware`` added) and the exception handlers and
router, so those calls pass every middleware and still skip the router.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette._utils import is_async_callable
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .answer import Answer


class ErrorMiddleware(ServerErrorMiddleware):
    """Starlette's error middleware (an unexpected error: the 500 of the app's handler, unless the answer
    began; then raised again for the server to log), knowing whether the answer began from the request's
    one send wrapper (:class:`.answer.Answer`) instead of a closure of its own around ``send``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answer = Answer.around(send)
        try:
            await self.app(scope, receive, answer)
        except Exception as exc:
            request = Request(scope)
            response: Response
            if self.debug:
                response = await run_in_threadpool(self.debug_response, request, exc)
            elif self.handler is None:
                response = self.error_response(request, exc)
            elif is_async_callable(self.handler):
                response = await self.handler(request, exc)  # type: ignore[assignment, arg-type]
            else:
                response = await run_in_threadpool(self.handler, request, exc)  # type: ignore[arg-type]
            if not answer.status:
                await response(scope, receive, answer)
            raise


def starlette_stack(app: Starlette, around_router: Callable[[ASGIApp], ASGIApp]) -> ASGIApp:
    """From the outside in: the error middleware (an unexpected error: the app's 500 handler), the
    middleware added with ``add_middleware``, ``around_router``'s layer, the exception handlers, the router."""
    error_handler = None
    handlers: dict[Any, Any] = {}
    for key, value in app.exception_handlers.items():
        if key in (500, Exception):
            error_handler = value
        else:
            handlers[key] = value
    inner = around_router(ExceptionMiddleware(app.router, handlers=handlers, debug=app.debug))
    chain = [Middleware(ErrorMiddleware, handler=error_handler, debug=app.debug), *app.user_middleware]
    for cls, args, kwargs in reversed(chain):
        inner = cls(inner, *args, **kwargs)
    return inner
