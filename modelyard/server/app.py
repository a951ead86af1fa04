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
from ..web.stack import starlette_stack
from . import metrics as metrics_module
from . import routes as routes_package
from . import workers
from .auth import AuthMiddleware
from .failures import error_payload
from .hotpath import CALLS, HotCall, HotCalls, HotPath
from .metrics import MetricsMiddleware, TrackingMetrics
from .operations import operation_routes
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
)


def route_modules() -> list[Any]:
    """Every module in ``server/routes``, then :mod:`.metrics` (``/metrics``, ``/ready``)."""
    modules = [
        importlib.import_module(f"{routes_package.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(routes_package.__path__), key=lambda i: i.name)
    ]
    return [*modules, metrics_module]


def build_routes() -> list[Route]:
    """Every table of every module of :func:`route_modules`, each under its prefixes."""
    modules = route_modules()
    out: list[Route] = operation_routes()
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
                scope["route"] = route
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
    """Starlette behind one chain of middleware, the front door of every request (see
    :meth:`build_middleware_stack`). ``hot`` runs MLflow's small write calls (:mod:`.hotpath`),
    ``guard`` holds the front door's rules and ``metrics`` the counts of ``/metrics``."""

    hot: HotPath
    guard: Guard
    metrics: TrackingMetrics

    def build_middleware_stack(self) -> ASGIApp:
        """From the outside in, for every request (the hot calls too):

        1. :class:`.metrics.MetricsMiddleware`: counts and times each answer;
        2. :class:`..guard.GuardMiddleware`: Host, Origin and content type; security headers;
        3. authentication, with ``--auth`` (:data:`FRONT_MIDDLEWARE`);
        4. Starlette's error middleware (an unexpected error: a JSON 500), then the middleware added
           with ``add_middleware``;
        5. :class:`.hotpath.HotCalls`: answers the hot calls;
        6. Starlette's exception handlers and the router (:class:`TableRouter`) for everything else.
        """
        app = starlette_stack(self, lambda router: HotCalls(router, self.hot))
        for front in reversed(FRONT_MIDDLEWARE):
            app = front(self, app)
        return app


# The front door's middleware, outermost first: each makes its layer from the app and the inner layers.
FRONT_MIDDLEWARE: list[Callable[[ModelyardApp, ASGIApp], ASGIApp]] = [
    lambda app, inner: MetricsMiddleware(inner, app.metrics),
    lambda app, inner: GuardMiddleware(inner, app.guard),
    # Authentication (``--auth``): after the guard, before anything that reads or writes, the hot calls too.
    lambda app, inner: AuthMiddleware(inner, app.state.service) if app.state.service.settings.auth else inner,
]


def tracking_guard(settings: Settings) -> Guard:
    """The guard's rules for ``settings``: JSON bodies on the API's POSTs, but for the ingest's MessagePack."""
    return Guard(
        host_names(settings.host, settings.allowed_hosts, "MODELYARD_ALLOWED_HOSTS"),
        split_setting(settings.cors_allowed_origins),
        json_prefixes=JSON_PREFIXES, json_exempt=JSON_EXEMPT,
        open_paths=("/health", "/ready"),
    )


def create_app(settings: Settings | None = None, service: TrackingService | None = None,
               calls: dict[tuple[str, str], HotCall] | None = None) -> ModelyardApp:
    """Build the app over ``settings`` (or an already open ``service``). ``calls``: the hot calls,
    ``{(method, path): HotCall}`` (default: :data:`.hotpath.CALLS`, the table's ``hot`` operations)."""
    owns_service = service is None
    if service is None:
        if settings is None:
            raise ValueError("create_app needs settings or a service")
        service = TrackingService(settings)
    if service.settings.auth:  # the hot calls check their operation's permission themselves (.hotpath)
        service.auth.ensure_admin()
        if not service.settings.serve_artifacts:
            log.warning("Authentication is on but artifacts are not served (--no-serve-artifacts): clients write"
                        " to the artifact store directly and the server cannot guard those artifacts.")
    hot = HotPath(service, dict(CALLS) if calls is None else calls)

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
    app.metrics = app.state.metrics = TrackingMetrics(service, hot)
    app.state.csrf_secret = service.settings.csrf_secret or secrets.token_hex(32)
    app.router = TableRouter(app.router.routes, lifespan=lifespan)  # type: ignore[arg-type]
    app.router.routes.append(Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"))
    app.state.service = service
    return app
