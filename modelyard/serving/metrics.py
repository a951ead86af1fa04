"""Prometheus metrics of one serving process (``GET /metrics``).

Per-app registry (several apps in one process do not collide). Series:
``modelyard_serving_requests_total{endpoint,status}``,
``modelyard_serving_request_duration_seconds{endpoint}``,
``modelyard_serving_batch_size``, ``modelyard_serving_model_info{name,version,uri}``,
``modelyard_serving_predictions_total{version,value}`` (discrete outputs),
``modelyard_serving_prediction_value{version}`` (numeric outputs),
``modelyard_serving_model_swaps_total``, ``modelyard_serving_model_load_failures_total``
and the request log's ``..._request_log_{written,dropped,failed}_total`` and queue depth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
VALUE_BUCKETS = (-10, -5, -2, -1, -0.5, 0, 0.1, 0.25, 0.5, 0.75, 0.9, 1, 2, 5, 10, 100)
MAX_CLASSES = 50  # distinct discrete prediction values tracked per version; more become "other"


class ServingMetrics:
    def __init__(self) -> None:
        disable_created_metrics()  # no *_created series: half the page, no value for scraping
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.requests = Counter("modelyard_serving_requests", "Requests by endpoint and HTTP status.",
                                ["endpoint", "status"], registry=r)
        self.latency = Histogram("modelyard_serving_request_duration_seconds", "Request latency.",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("modelyard_serving_batch_size", "Requests per model predict call.",
                                    buckets=BATCH_BUCKETS, registry=r)
        self.model_info = Gauge("modelyard_serving_model_info", "The model version answering (value 1).",
                                ["name", "version", "uri"], registry=r)
        self.predicted = Counter("modelyard_serving_predictions", "Discrete predictions by value.",
                                 ["version", "value"], registry=r)
        self.values = Histogram("modelyard_serving_prediction_value", "Numeric predictions.",
                                ["version"], buckets=VALUE_BUCKETS, registry=r)
        self.swaps = Counter("modelyard_serving_model_swaps", "Model versions switched in.", registry=r)
        self.load_failures = Counter("modelyard_serving_model_load_failures",
                                     "Model versions that failed to load (the old one kept serving).", registry=r)
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._classes: dict[tuple[str, Any], Any] = {}

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        child = self._children.get((endpoint, status))
        if child is None:
            child = self._children[(endpoint, status)] = (
                self.requests.labels(endpoint, str(status)), self.latency.labels(endpoint))
        child[0].inc()
        child[1].observe(seconds)

    def set_model(self, name: str, version: str, uri: str) -> None:
        self.model_info.clear()
        self.model_info.labels(name, version, uri).set(1)

    def predictions(self, version: str, pred: Any) -> None:
        """Count discrete outputs by value and put numeric ones in a histogram (1-D outputs only)."""
        if not isinstance(pred, np.ndarray) or pred.ndim != 1 or len(pred) > 4096:
            return
        kind = pred.dtype.kind
        if kind in "biuUO":
            for value in pred.tolist():
                key = (version, value)
                child = self._classes.get(key)
                if child is None:
                    label = str(value) if len(self._classes) < MAX_CLASSES else "other"
                    child = self._classes[key] = self.predicted.labels(version, label)
                child.inc()
        if kind in "fiub":
            hist = self.values.labels(version)
            for value in pred.tolist():
                hist.observe(float(value))

    def add_collector(self, fn: Callable[[], dict[str, float]]) -> None:
        """Export counters read at scrape time (``{name: value}``; names ending ``_total`` are counters)."""
        self.registry.register(_Snapshot(fn))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Snapshot(Collector):
    def __init__(self, fn: Callable[[], dict[str, float]]) -> None:
        self.fn = fn

    def collect(self) -> Iterator[Any]:
        for name, value in self.fn().items():
            if name.endswith("_total"):
                yield CounterMetricFamily(name[: -len("_total")], name.replace("_", " "), value=value)
            else:
                yield GaugeMetricFamily(name, name.replace("_", " "), value=value)
