"""The ASGI app: ``create_app(settings)`` assembles every route module."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import pkgutil
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import EndpointNotFound, ModelyardError
from ..service import TrackingService
from ..settings import Settings
from ..web.guard import Guard, GuardMiddleware, host_names, split_setting
from . import routes as routes_package
from . import workers
from .failures import error_payload
from .hotpath import HotPath
from .protocol import JSONResponse
from .ui import STATIC_DIR

log = logging.getLogger("modelyard.server")

MLFLOW_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
ARTIFACT_PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")
EXTENSION_PREFIXES = ("/api/2.0/modelyard", "/ajax-api/2.0/modelyard")
# Paths whose POST and PATCH bodies must be JSON (the guard's content-type check), but for those
# whose bodies are not JSON by design: MessagePack ingest, and the raw file of MLflow's UI upload.
JSON_PREFIXES = tuple(p + "/" for p in (*MLFLOW_PREFIXES, *EXTENSION_PREFIXES)) + ("/api/3.0/", "/ajax-api/3.0/")
JSON_EXEMPT = (*(p + "/runs/ingest" for p in EXTENSION_PREFIXES), *(p + "/upload-artifact" for p in MLFLOW_PREFIXES))

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
    ("V3_ROUTES", ("/api/3.0/mlflow", "/ajax-api/3.0/mlflow")),
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


async def _on_error(request: Request, exc: Exception) -> Response:
    status, body = error_payload(exc, request.method, request.url.path)
    return JSONResponse(body, status_code=status)


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


class ModelyardApp(Starlette):
    """Starlette behind :class:`..guard.GuardMiddleware`, the front door of every route.

    ``hot`` (MLflow's small write calls), ``guard`` (its rules) and ``request_timeout``
    are read by the server's HTTP protocol (:mod:`.http_protocol`), which answers the
    hot calls itself under the same rules.
    """

    hot: HotPath
    guard: Guard
    request_timeout: float

    def build_middleware_stack(self) -> ASGIApp:
        return GuardMiddleware(super().build_middleware_stack(), self.guard)


def tracking_guard(settings: Settings) -> Guard:
    """The guard's rules for ``settings``: JSON bodies on the API's POSTs, but for the ingest's MessagePack."""
    return Guard(
        host_names(settings.host, settings.allowed_hosts, "MODELYARD_ALLOWED_HOSTS"),
        split_setting(settings.cors_allowed_origins),
        json_prefixes=JSON_PREFIXES, json_exempt=JSON_EXEMPT,
        open_paths=("/health",),
    )


def create_app(settings: Settings | None = None, service: TrackingService | None = None) -> ModelyardApp:
    """Build the app over ``settings`` (or an already open ``service``)."""
    owns_service = service is None
    if service is None:
        if settings is None:
            raise ValueError("create_app needs settings or a service")
        service = TrackingService(settings)
    hot = HotPath(service, MLFLOW_PREFIXES)

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
            await asyncio.to_thread(hot.close)  # the queued writes finish first
            if owns_service:
                service.close()

    app = ModelyardApp(
        lifespan=lifespan,
        routes=build_routes(),
        exception_handlers={
            ModelyardError: _on_error,
            HTTPException: _on_http_error,
            Exception: _on_error,
        },
    )
    app.hot = hot
    app.guard = tracking_guard(service.settings)
    app.request_timeout = service.settings.request_body_timeout
    app.state.csrf_secret = service.settings.csrf_secret or secrets.token_hex(32)
    app.router = TableRouter(app.router.routes, lifespan=lifespan)  # type: ignore[arg-type]
    app.router.routes.append(Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"))
    app.state.service = service
    return app
