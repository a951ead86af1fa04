"""The inference server: ``create_app(ServingConfig | model_uri)`` builds an ASGI app.

Endpoints (MLflow scoring protocol, so existing MLflow clients keep working):
``POST /invocations``, ``GET /ping``, ``GET /health``, ``GET /version``; Open
Inference Protocol v2 under ``/v2`` (see :mod:`.oip`); ``GET /metrics``
(Prometheus); ``POST /feedback``; ``POST /-/webhook`` (the registry's alias
events); ``GET /openapi.json``; ``GET /`` (a try-it page from the signature).
Every prediction response names the version that answered in ``x-model-version``
and its request id in ``x-request-id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from ..errors import (
    InvalidParameterValue,
    ModelyardError,
    RequestTooLarge,
    TemporarilyUnavailable,
)
from ..web.guard import Guard, host_names, split_setting
from ..web.heap import settle_heap
from ..web.request_body import receive_body
from .asgi import Endpoint, ServingApp, header, respond
from .batching import Batcher
from .config import ServingConfig
from .holder import ModelHolder
from .inputs import Inputs
from .metrics import CONTENT_TYPE, ServingMetrics
from .model import LoadedModel, jsonable
from .request_log import RequestLog
from .tokens import parse_tokens

_encode = msgspec.json.Encoder().encode
JSON = "application/json"
log = logging.getLogger("modelyard.serving")


class ModelServer:
    """The state behind one app: the model holder, batcher, metrics and request log."""

    def __init__(self, config: ServingConfig, client_factory: Callable[[], Any] | None = None) -> None:
        self.config = config
        if client_factory is None:
            def client_factory() -> Any:
                from ..client import Client

                return Client(config.tracking_uri)
        self.client_factory = client_factory
        self.metrics = ServingMetrics()
        if config.metrics_dir:
            self.metrics.share(config.metrics_dir)
        self.holder = ModelHolder(config.model_uri, client_factory, self.metrics, config.model_name, config.trust())
        self.batcher = Batcher(config.max_batch_size, config.max_wait_ms, config.inline_predict_ms,
                               self.metrics.batch_size.observe)
        self.request_log = (
            RequestLog(client_factory, config.request_log_queue, config.request_log_flush_s)
            if config.request_log else None
        )
        self._prefix = uuid.uuid4().hex[:12]
        self._ids = itertools.count(1)
        self._feedback_client: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.rollout = _follower(self.holder, config.model_uri)

    @property
    def model(self) -> LoadedModel:
        model = self.holder.current
        if model is None:
            raise TemporarilyUnavailable("The model is still loading.")
        return model

    def request_id(self, given: str | None) -> str:
        """The caller's ``x-request-id`` when usable, else a new one."""
        if given and len(given) <= 64:
            return given
        return f"{self._prefix}-{next(self._ids):x}"

    def too_large(self, size: int, limit: int) -> RequestTooLarge:
        """A body over ``max_request_bytes``: 413 REQUEST_LIMIT_EXCEEDED, naming the limit and how to raise it."""
        return RequestTooLarge(
            f"Request body of {size} bytes (or more) exceeds the limit of {limit} bytes: send fewer rows per"
            " request, or start the server with a higher --max-request-bytes (ServingConfig.max_request_bytes)."
        )

    async def read(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body, at most ``max_request_bytes`` (see :func:`modelyard.web.request_body.receive_body`).

        A declared Content-Length over the limit is refused before the body is read,
        a chunked one as soon as it passes the limit; a client that went away raises
        ``ClientDisconnect`` as ``Request.body()`` does.
        """
        self.batcher.receiving += 1
        try:
            body = await receive_body(scope, receive, self.config.max_request_bytes, self.too_large)
        finally:
            self.batcher.receiving -= 1
        if body is None:
            raise ClientDisconnect()
        return body

    async def body(self, request: Request) -> bytes:
        """:meth:`read` for a Starlette ``Request`` (``request.body()`` returns the same bytes after)."""
        body = await self.read(request.scope, request.receive)
        request._body = body
        return body

    async def predict(self, model: LoadedModel, inputs: Inputs, params: dict[str, Any] | None) -> Any:
        return await self.batcher.predict(model, inputs, params)

    def record(self, request_id: str, model: LoadedModel, inputs: Inputs, pred: Any, seconds: float) -> None:
        """After a successful prediction: metrics of the outputs, and the request log (never blocks)."""
        self.metrics.predictions(model.version, pred)
        if self.request_log is not None:
            self.request_log.put((request_id, int(time.time() * 1000), model, inputs, pred, seconds * 1000))

    def headers(self, model: LoadedModel | None, request_id: str | None) -> dict[str, str]:
        out = {}
        if model is not None:
            out["x-model-name"] = model.name
            out["x-model-version"] = model.version
        if request_id is not None:
            out["x-request-id"] = request_id
        return out

    def raw_headers(self, model: LoadedModel | None, request_id: str) -> list[tuple[bytes, bytes]]:
        """:meth:`headers` as ASGI header pairs."""
        out = [] if model is None else [(b"x-model-name", model.name.encode("latin-1")),
                                        (b"x-model-version", model.version.encode("latin-1"))]
        out.append((b"x-request-id", request_id.encode("latin-1")))
        return out

    # ---- MLflow scoring protocol ---------------------------------------------------

    async def invocations(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /invocations``, in plain ASGI (see :mod:`.asgi`)."""
        t0 = time.perf_counter()
        model = self.holder.current
        shadow = None
        try:
            request_id = self.request_id(header(scope, b"x-request-id"))
            plan = self.rollout.plan if self.rollout is not None else None
            if plan is not None and model is not None:
                model, shadow = plan.route(model, header(scope, b"x-caller-key") or request_id)
            try:
                if model is None:
                    raise TemporarilyUnavailable("The model is still loading.")
                body = await self.read(scope, receive)
                inputs, params = model.reader.read_mlflow(body, header(scope, b"content-type") or JSON)
                pred = await self.predict(model, inputs, params)
                content, status = _encode({"predictions": jsonable(pred)}), 200
                if self.rollout is not None:
                    self.rollout.count(model.version)
                if shadow is not None:
                    self._spawn(self._shadow(shadow, body, header(scope, b"content-type") or JSON, request_id))
            except ModelyardError as exc:
                content, status = _encode(exc.to_dict()), exc.status
            except Exception as exc:  # noqa: BLE001 - the model refused this input: the caller's 400
                content, status = _encode(model_failed(exc)), 400
            seconds = time.perf_counter() - t0
            self.metrics.observe("invocations", status, seconds)
            if status == 200:
                self.record(request_id, model, inputs, pred, seconds)  # type: ignore[arg-type]
            headers = self.raw_headers(model, request_id)
        except Exception as exc:  # what Starlette's error middleware does on the other routes
            log.exception("unexpected error on POST %s", scope["path"])
            content, status, headers = _encode(unexpected(exc)), 500, []
        await respond(send, status, headers, content)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _shadow(self, model: LoadedModel, body: bytes, content_type: str, request_id: str) -> None:
        """The rollout's candidate scores a copy of a request: logged and counted, never returned."""
        t0 = time.perf_counter()
        try:
            inputs, params = model.reader.read_mlflow(body, content_type)
            pred = await self.predict(model, inputs, params)
        except Exception as exc:  # noqa: BLE001 - a shadow's failure is the candidate's, not the caller's
            self.metrics.observe("shadow", 400, time.perf_counter() - t0)
            log.info("shadow version %s could not predict: %s", model.version, exc)
            return
        seconds = time.perf_counter() - t0
        self.metrics.observe("shadow", 200, seconds)
        if self.rollout is not None:
            self.rollout.count(model.version)
        self.record(f"{request_id}:shadow", model, inputs, pred, seconds)

    async def ping(self, request: Request) -> Response:
        ok = self.holder.current is not None
        return Response(b"\n" if ok else b"loading\n", 200 if ok else 503, media_type="text/plain")

    async def version(self, request: Request) -> Response:
        from .. import __version__

        info = {**self.holder.describe(), "server_version": __version__}
        if self.rollout is not None:
            info["rollout"] = self.rollout.describe()
        return Response(_encode(info), 200, self.headers(self.holder.current, None), JSON)

    async def metrics_page(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type=CONTENT_TYPE)

    # ---- feedback and the registry webhook -----------------------------------------

    async def feedback(self, request: Request) -> Response:
        """``{"request_id", "label"}``, ``{"feedback": [...]}`` or a list of those: ground truth for served requests."""
        t0 = time.perf_counter()
        try:
            items = feedback_items(await self.body(request))
            await run_in_threadpool(self._write_feedback, items)
            content, status = _encode({"logged": len(items)}), 200
        except ModelyardError as exc:
            content, status = _encode(exc.to_dict()), exc.status
        self.metrics.observe("feedback", status, time.perf_counter() - t0)
        return Response(content, status, media_type=JSON)

    def _write_feedback(self, items: list[dict[str, Any]]) -> None:
        if self._feedback_client is None:
            self._feedback_client = self.client_factory()
        self._feedback_client.log_inference_feedback(items)

    async def webhook(self, request: Request) -> Response:
        from .webhook import parse_event

        body = await self.body(request)
        event = parse_event(body, request.headers, self.config.webhook_secret)
        model = self.holder.current
        relevant = model is not None and event.name in (None, model.name) and self.holder.movable
        if relevant:
            if request.query_params.get("wait") in ("1", "true"):
                await self.holder.refresh_soon()
                if self.rollout is not None:
                    await self.rollout.refresh_soon()
            else:
                self._spawn(self.holder.refresh_soon())
                if self.rollout is not None:
                    self._spawn(self.rollout.refresh_soon())
        answer = {"accepted": relevant, "event": event.event, **self.holder.describe()}
        return Response(_encode(answer), 200, media_type=JSON)

    # ---- documents -----------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        from .page import render_page

        return HTMLResponse(render_page(self.model))

    async def openapi(self, request: Request) -> Response:
        from .openapi import openapi_document

        return Response(_encode(openapi_document(self.model)), media_type=JSON)

    # ---- lifecycle -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(self.holder.load_initial)
        settle_heap()
        if self.request_log is not None:
            self.request_log.start()
            self.metrics.add_collector(self.request_log.counters)
        tasks = []
        if self.config.poll_interval > 0:
            tasks.append(asyncio.create_task(self.holder.poll(self.config.poll_interval)))
            if self.rollout is not None:
                tasks.append(asyncio.create_task(self.rollout.poll(self.config.poll_interval)))
        if self.metrics.files is not None:
            tasks.append(asyncio.create_task(self._flush_metrics(self.config.metrics_flush_s)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            if self.request_log is not None:
                await run_in_threadpool(self.request_log.stop)
            self.batcher.close()
            self.holder.close()
            if self._feedback_client is not None:
                self._feedback_client.close()
            self.metrics.flush()  # the last counts of a worker that stops stay in the shared totals

    async def _flush_metrics(self, interval: float) -> None:
        """Every ``interval`` s: this worker's counts where the other workers read them (see .metrics_files)."""
        while True:
            self.metrics.flush()
            await asyncio.sleep(interval)


def _follower(holder: ModelHolder, uri: str) -> Any:
    """A :class:`~.rollout.RolloutFollower` when ``uri`` is ``models:/name@alias``, else None."""
    rest = uri[len("models:"):].lstrip("/") if uri.startswith("models:") else ""
    if "@" not in rest:
        return None
    from .rollout import RolloutFollower

    return RolloutFollower(holder, rest.split("@", 1)[1])


def model_failed(exc: Exception) -> dict[str, str]:
    return {"error_code": "BAD_REQUEST",
            "message": f"The model could not predict on this input: {type(exc).__name__}: {exc}"}


def feedback_items(body: bytes) -> list[dict[str, Any]]:
    try:
        obj = msgspec.json.decode(body or b"null")
    except msgspec.DecodeError as exc:
        raise InvalidParameterValue(f"Malformed JSON in request body: {exc}.") from None
    if isinstance(obj, dict) and "feedback" in obj:
        obj = obj["feedback"]
    items = obj if isinstance(obj, list) else [obj]
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not item.get("request_id") or "label" not in item:
            raise InvalidParameterValue(f"feedback[{i}] must be an object with 'request_id' and 'label'.")
    return items


async def _on_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ModelyardError)
    return Response(_encode(exc.to_dict()), exc.status, media_type=JSON)


def unexpected(exc: Exception) -> dict[str, str]:
    return {"error_code": "INTERNAL_ERROR", "message": f"{type(exc).__name__}: {exc}"}


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return Response(_encode(unexpected(exc)), 500, media_type=JSON)


class _ExactRouter(Router):
    """Starlette's router with a dictionary lookup in front for fixed paths."""

    def __init__(self, routes: list[Route]) -> None:
        super().__init__(routes=routes)
        self.exact = {(r.path, m): r for r in routes if "{" not in r.path for m in (r.methods or ())}

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self.exact.get((scope["path"], scope["method"]))
            if route is not None:
                scope["path_params"] = {}
                await route.handle(scope, receive, send)
                return
        await super().app(scope, receive, send)


def serving_guard(config: ServingConfig) -> Guard:
    """The guard's rules for ``config``: any body type (a model takes CSV too); probes open to any Host."""
    return Guard(
        host_names(config.host, config.allowed_hosts, "MODELYARD_SERVE_ALLOWED_HOSTS"),
        split_setting(config.cors_allowed_origins),
        open_paths=("/health", "/ping"), open_prefixes=("/v2/health/",),
        hosts_setting="MODELYARD_SERVE_ALLOWED_HOSTS", origins_setting="MODELYARD_SERVE_CORS_ALLOWED_ORIGINS",
    )


def create_app(config: ServingConfig | str, client_factory: Callable[[], Any] | None = None) -> ServingApp:
    """An ASGI app serving ``config.model_uri`` (or a model URI with default settings).

    >>> app = create_app("models:/churn@champion")      # uvicorn / gunicorn-with-uvicorn workers
    """
    from .oip import oip_routes

    if isinstance(config, str):
        config = ServingConfig(model_uri=config)
    server = ModelServer(config, client_factory)
    routes = [
        Route("/", server.page, methods=["GET"]),
        Route("/invocations", Endpoint(server.invocations), methods=["POST"]),
        Route("/ping", server.ping, methods=["GET"]),
        Route("/health", server.ping, methods=["GET"]),
        Route("/version", server.version, methods=["GET"]),
        Route("/metrics", server.metrics_page, methods=["GET"]),
        Route("/feedback", server.feedback, methods=["POST"]),
        Route("/-/webhook", server.webhook, methods=["POST"]),
        Route("/openapi.json", server.openapi, methods=["GET"]),
        *oip_routes(server),
    ]
    app = ServingApp(routes=routes, lifespan=server.lifespan,
                     exception_handlers={ModelyardError: _on_error, Exception: _on_unexpected})
    app.router = _ExactRouter(app.router.routes)  # type: ignore[arg-type]
    app.router.lifespan_context = server.lifespan
    app.direct = {"/invocations": server.invocations}
    app.guard = serving_guard(config)
    app.tokens = parse_tokens(config.tokens)
    app.state.server = server
    return app
