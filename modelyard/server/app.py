"""The ASGI app: ``create_app(settings)`` assembles every route module."""

from __future__ import annotations

import contextlib
import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from ..errors import EndpointNotFound, ModelyardError, TemporarilyUnavailable
from ..service import TrackingService
from ..settings import Settings
from .protocol import JSONResponse
from . import routes as routes_package
from . import workers
from .ui import STATIC_DIR

log = logging.getLogger("modelyard.server")

MLFLOW_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
ARTIFACT_PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")
EXTENSION_PREFIXES = ("/api/2.0/modelyard", "/ajax-api/2.0/modelyard")

RouteTable = list[tuple[str, list[str], Callable[..., Any]]]


def _mount(prefixes: tuple[str, ...], table: RouteTable) -> list[Route]:
    return [
        Route(prefix + path, fn, methods=methods, name=f"{prefix}{path}:{'/'.join(methods)}")
        for prefix in prefixes
        for path, methods, fn in table
    ]


# Which table of a route module goes under which prefixes.
_TABLES = (
    ("ABSOLUTE_ROUTES", ("",)),
    ("ROUTES", MLFLOW_PREFIXES),
    ("PROXY_ROUTES", ARTIFACT_PREFIXES),
    ("EXTENSION_ROUTES", EXTENSION_PREFIXES),
)


def build_routes() -> list[Route]:
    """Every table of every module in ``server/routes``, each under its prefixes."""
    modules = [
        importlib.import_module(f"{routes_package.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(routes_package.__path__), key=lambda i: i.name)
    ]
    out: list[Route] = []
    for attr, prefixes in _TABLES:
        for module in modules:
            out += _mount(prefixes, getattr(module, attr, []))
    return out


class TableRouter(Router):
    """Starlette's router with a dictionary in front for paths without parameters.

    With well over a hundred routes, matching each pattern in turn costs more
    than the work of a small request; a fixed path is found in one lookup.
    """

    def __init__(self, routes: list[Route], lifespan: Any = None) -> None:
        super().__init__(routes=routes, lifespan=lifespan)
        self.exact: dict[tuple[str, str], Route] = {}
        for route in routes:
            if "{" not in route.path:
                for method in route.methods or ():
                    self.exact.setdefault((route.path, method), route)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self.exact.get((scope["path"], scope["method"]))
            if route is not None:
                scope.setdefault("router", self)
                scope["endpoint"] = route.endpoint
                scope["path_params"] = {}
                await route.handle(scope, receive, send)
                return
        await super().app(scope, receive, send)


async def _on_modelyard_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ModelyardError)
    return JSONResponse(exc.to_dict(), status_code=exc.status)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        err: ModelyardError = EndpointNotFound(f"No endpoint {request.method} {request.url.path}.")
    elif exc.status_code == 405:
        err = EndpointNotFound(f"Method {request.method} is not allowed on {request.url.path}.")
        return JSONResponse(err.to_dict(), status_code=405)
    else:
        err = ModelyardError(str(exc.detail))
        err.status = exc.status_code
        err.error_code = "BAD_REQUEST" if exc.status_code < 500 else "INTERNAL_ERROR"
    return JSONResponse(err.to_dict(), status_code=err.status)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    text = str(exc).lower()
    if type(exc).__name__ == "OperationalError" and ("locked" in text or "busy" in text):
        # SQLite's busy timeout ran out under another writer: transient, worth a retry.
        err = TemporarilyUnavailable("The store is busy with another writer; retry the request.")
        return JSONResponse(err.to_dict(), status_code=err.status)
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse(
        {"error_code": "INTERNAL_ERROR", "message": f"Internal error: {type(exc).__name__}: {exc}"},
        status_code=500,
    )


def create_app(settings: Settings | None = None, service: TrackingService | None = None) -> Starlette:
    """Build the app over ``settings`` (or an already open ``service``)."""
    owns_service = service is None
    if service is None:
        if settings is None:
            raise ValueError("create_app needs settings or a service")
        service = TrackingService(settings)
    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        running = workers.start_all(service) if service.settings.background_workers else []
        try:
            yield
        finally:
            for worker in running:
                try:
                    await worker.stop()
                except Exception:  # stop the others all the same
                    log.exception("a background worker failed to stop")
            if owns_service:
                service.close()

    app = Starlette(
        lifespan=lifespan,
        routes=build_routes(),
        exception_handlers={
            ModelyardError: _on_modelyard_error,
            HTTPException: _on_http_error,
            Exception: _on_unexpected,
        },
    )
    app.router = TableRouter(app.router.routes, lifespan=lifespan)  # type: ignore[arg-type]
    app.router.routes.append(Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"))
    app.state.service = service
    return app
