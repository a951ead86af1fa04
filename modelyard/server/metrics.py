"""Prometheus metrics and readiness of the tracking server: ``GET /metrics``, ``GET /ready``.

Series (the per-request ones kept as plain counts, :mod:`modelyard.web.prometheus`, as
``modelyard serve`` keeps its own):

- ``modelyard_http_requests_total{operation,method,status}``: requests answered, by
  operation — the route's path template (``/api/2.0/mlflow/runs/get``,
  ``/api/2.0/mlflow-artifacts/artifacts/{artifact_path:path}``), ``unmatched`` for a path
  no route has — so the label values are bounded by the route table;
- ``modelyard_http_request_duration_seconds{operation,method}``: time from the request's
  arrival at the app to the end of its answer;
- ``modelyard_writer_queue_depth``: calls queued for (or running on) the store's SQLite writer;
- ``modelyard_db_pool_checked_out`` and ``modelyard_db_pool_idle``: database connections in
  use and kept idle (SQLAlchemy's pool and the hot paths' own free lists).

:class:`MetricsMiddleware` counts every request, those the guard refuses included, so it
sits outermost. With ``--workers N`` each worker keeps its own counts and a scrape is
answered by one of them.

``/ready`` answers 200 once the store answers a query (``SELECT 1`` within
:data:`READY_TIMEOUT` seconds), else 503: unlike ``/health`` (the process is alive), it says
whether requests can be served.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any, ClassVar

from prometheus_client import CollectorRegistry, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..web.answer import Answer
from ..web.prometheus import CONTENT_TYPE, LATENCY_BUCKETS, CounterFamily, HistogramFamily
from .protocol import JSONResponse

READY_TIMEOUT = 5.0
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


class TrackingMetrics:
    """The counts of one tracking-server process and the gauges read when ``/metrics`` is scraped."""

    def __init__(self, service: Any, hot: Any = None) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = CounterFamily("modelyard_http_requests", "Requests answered, by operation, method and status.",
                                      ["operation", "method", "status"])
        self.latency = HistogramFamily("modelyard_http_request_duration_seconds",
                                       "Request latency, by operation and method.", ["operation", "method"],
                                       LATENCY_BUCKETS)
        self.registry.register(self.requests)
        self.registry.register(self.latency)
        self.registry.register(_Gauges(service, hot))
        self.registry.register(_MonitorGauges(service))
        self._children: dict[tuple[str, str, int], tuple[tuple[str, str, str], Any]] = {}

    def observe(self, operation: str, method: str, status: int, seconds: float) -> None:
        child = self._children.get((operation, method, status))
        if child is None:
            labels = (operation, method, str(status))
            child = self._children[(operation, method, status)] = (labels, self.latency.labels(operation, method))
        counts = self.requests.counts
        counts[child[0]] = counts.get(child[0], 0) + 1
        buckets = child[1]  # Buckets.observe, inline (a duration is never NaN)
        buckets.counts[bisect_left(buckets.bounds, seconds)] += 1
        buckets.total += seconds

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Gauges(Collector):
    """The store writer's queue and the database connections, read at scrape time."""

    def __init__(self, service: Any, hot: Any) -> None:
        self.service, self.hot = service, hot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        writer = getattr(self.hot, "writer", None)
        yield GaugeMetricFamily("modelyard_writer_queue_depth", "Calls queued for or running on the store's"
                                " SQLite writer.", value=writer.depth if writer is not None else 0)
        in_use, idle = pool_use(self.service.store.db)
        yield GaugeMetricFamily("modelyard_db_pool_checked_out", "Database connections in use.", value=in_use)
        yield GaugeMetricFamily("modelyard_db_pool_idle", "Database connections kept open and idle.", value=idle)


class _MonitorGauges(Collector):
    """Each monitor's latest scores (drift share, performance, prediction rate...), read at scrape time."""

    HELP: ClassVar[dict[str, str]] = {
        "modelyard_monitor_metric": "A monitor's latest score (drift share, performance, prediction rate...).",
        "modelyard_monitor_feature_drift": "A monitor's latest drift statistic of one feature.",
        "modelyard_monitor_last_run_timestamp_seconds": "When a monitor last ran.",
    }

    def __init__(self, service: Any) -> None:
        self.service = service

    def collect(self) -> Iterator[GaugeMetricFamily]:
        monitoring = getattr(self.service, "monitoring", None)
        if monitoring is None:
            return
        found = monitoring.gauges()
        for name, text in self.HELP.items():
            rows = [(labels, value) for n, labels, value in found if n == name]
            if not rows:
                continue
            keys = list(dict.fromkeys(k for labels, _ in rows for k in labels))  # in the order the monitor gives them
            family = GaugeMetricFamily(name, text, labels=keys)
            for labels, value in rows:
                family.add_metric([labels.get(k, "") for k in keys], value)
            yield family


def pool_use(db: Any) -> tuple[int, int]:
    """(in use, idle) connections of SQLAlchemy's pool, plus the idle ones of the hot paths' free lists."""
    pool = db.engine.pool
    in_use = int(pool.checkedout()) if hasattr(pool, "checkedout") else 0
    idle = int(pool.checkedin()) if hasattr(pool, "checkedin") else 0
    kept = getattr(getattr(db, "_free", None), "idle", None)
    if isinstance(kept, list):
        idle += len(kept)
    return in_use, idle


class MetricsMiddleware:
    """Pure ASGI: every HTTP request counted and timed under its operation (see the module's docstring)."""

    def __init__(self, app: ASGIApp, metrics: TrackingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answer = Answer.around(send)  # the request's one send wrapper (web/answer.py): it keeps the status
        try:
            await self.app(scope, receive, answer)
        finally:
            route = scope.get("route")
            operation = getattr(route, "path", None) or scope.get("modelyard.operation") or UNMATCHED
            method = scope["method"]
            # No answer begun: the server answers 500 when the app fails before its answer.
            self.metrics.observe(operation, method if method in METHODS else "other", answer.status or 500,
                                 time.perf_counter() - started)


async def metrics_page(request: Request) -> Response:
    """``GET /metrics``: the Prometheus text page."""
    body = await run_in_threadpool(request.app.state.metrics.render)  # the gauges read the store
    return Response(body, media_type=CONTENT_TYPE)


async def ready(request: Request) -> Response:
    """``GET /ready``: 200 ``OK`` once the store answers a query, else 503 naming why."""
    db = request.app.state.service.store.db

    def query() -> None:
        with db.fast_read() as tx:
            tx.one("SELECT 1")

    try:
        await asyncio.wait_for(asyncio.to_thread(query), READY_TIMEOUT)
    except Exception as exc:  # noqa: BLE001  (any failure means not ready; the reason goes in the answer)
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return JSONResponse({"error_code": "TEMPORARILY_UNAVAILABLE",
                             "message": f"The store does not answer ({reason}): check the database the server"
                                        " uses (--backend-store-uri) and that it is reachable."}, status_code=503)
    return PlainTextResponse("OK")


ABSOLUTE_ROUTES = [
    ("/metrics", ["GET"], metrics_page),
    ("/ready", ["GET"], ready),
]
