"""Starlette's middleware stack with a layer of ours just outside the router.

Both web apps (``server/`` and ``serving/``) answer their fast calls in a layer placed between
Starlette's error middleware (and whatever ``add_middleware`` added) and the exception handlers and
router, so those calls pass every middleware and still skip the router.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp


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
    chain = [Middleware(ServerErrorMiddleware, handler=error_handler, debug=app.debug), *app.user_middleware]
    for cls, args, kwargs in reversed(chain):
        inner = cls(inner, *args, **kwargs)
    return inner
