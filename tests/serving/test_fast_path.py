"""What the fast paths must keep: tensor batches answer each request its own rows, the metrics
page reads exactly as prometheus_client's own series would, and added middleware sees every request."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.testclient import TestClient

import modelyard as my
from modelyard.serving import ServingConfig, create_app
from modelyard.serving.batching import Batcher
from modelyard.serving.inputs import Inputs
from modelyard.serving.metrics import BATCH_BUCKETS, LATENCY_BUCKETS, VALUE_BUCKETS, ServingMetrics
from modelyard.serving.model import load, resolve


@pytest.fixture(scope="module")
def tensor_model(tmp_path_factory: pytest.TempPathFactory):
    """A scikit-learn model trained on numpy: its signature is one float64 tensor of shape (-1, 30)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    X, y = load_breast_cancer(return_X_y=True)
    clf = LogisticRegression(max_iter=5000).fit(X, y)
    path = str(tmp_path_factory.mktemp("tensor") / "model")
    my.models.save_model(clf, path, input_example=X[:2])
    return path, clf, X


def test_tensor_requests_share_a_batch_and_get_their_own_rows(tensor_model):
    path, clf, X = tensor_model
    model = load(resolve(path, None), None)
    assert model.batches_tensors and model.reader.tensor is not None
    sizes: list[int] = []

    async def main():
        batcher = Batcher(max_batch_size=8, max_wait_ms=0, on_batch=sizes.append)
        requests = [model.reader.read_mlflow(f'{{"inputs": {X[i:i + 1].tolist()}}}'.encode(), "application/json")[0]
                    for i in range(12)]
        assert all(r.kind == "tensor" for r in requests)
        return await asyncio.gather(*(batcher.predict(model, r, None) for r in requests))

    results = asyncio.run(main())
    assert [r.tolist() for r in results] == [clf.predict(X[i:i + 1]).tolist() for i in range(12)]
    assert sizes == [8, 4]


def test_tensors_without_a_batch_axis_are_not_joined(tensor_model):
    path, _, X = tensor_model
    model = load(resolve(path, None), None)
    model.reader.tensor = type(model.reader.tensor)("float64", (1, 30), None)  # a fixed batch of one
    model.__dict__.pop("batches_tensors", None)
    assert not model.batches_tensors
    sizes: list[int] = []

    async def main():
        batcher = Batcher(max_batch_size=8, max_wait_ms=0, on_batch=sizes.append)
        rows = [Inputs("tensor", X[i:i + 1], 1) for i in range(3)]
        return await asyncio.gather(*(batcher.predict(model, r, None) for r in rows))

    asyncio.run(main())
    assert sizes == [1, 1, 1]


def _families(text: str, names: tuple[str, ...]) -> list[str]:
    """The lines (samples, HELP and TYPE) of the metric families ``names``."""
    out = []
    for line in text.splitlines():
        bare = line.removeprefix("# HELP ").removeprefix("# TYPE ")
        if bare.split("{")[0].split(" ")[0].startswith(names):
            out.append(line)
    return out


def test_metrics_page_matches_prometheus_client():
    ours = ServingMetrics()
    ref = CollectorRegistry(auto_describe=False)
    requests = Counter("modelyard_serving_requests", "Requests by endpoint and HTTP status.",
                       ["endpoint", "status"], registry=ref)
    latency = Histogram("modelyard_serving_request_duration_seconds", "Request latency.", ["endpoint"],
                        buckets=LATENCY_BUCKETS, registry=ref)
    batch = Histogram("modelyard_serving_batch_size", "Requests per model predict call.", buckets=BATCH_BUCKETS,
                      registry=ref)
    predicted = Counter("modelyard_serving_predictions", "Discrete predictions by value.", ["version", "value"],
                        registry=ref)
    values = Histogram("modelyard_serving_prediction_value", "Numeric predictions.", ["version"],
                       buckets=VALUE_BUCKETS, registry=ref)
    for endpoint, status, seconds in [("invocations", 200, 0.0004), ("invocations", 200, 0.003),
                                      ("invocations", 400, 0.001), ("v2_infer", 200, 30.0)]:
        ours.observe(endpoint, status, seconds)
        requests.labels(endpoint, str(status)).inc()
        latency.labels(endpoint).observe(seconds)
    for n in (1, 3, 16, 300):
        ours.batch_size.observe(n)
        batch.observe(n)
    for version, pred in [("1", np.array([0, 1, 1])), ("2", np.array([0.25, -3.0, math.nan, 250.0]))]:
        ours.predictions(version, pred)
        for v in pred.tolist():
            if pred.dtype.kind in "iub":
                predicted.labels(version, str(v)).inc()
            values.labels(version).observe(float(v))
    names = ("modelyard_serving_requests", "modelyard_serving_request_duration_seconds",
             "modelyard_serving_batch_size", "modelyard_serving_predictions", "modelyard_serving_prediction_value")
    mine, theirs = ours.render().decode(), generate_latest(ref).decode()
    assert _families(mine, names) == _families(theirs, names)
    assert 'modelyard_serving_prediction_value_bucket{le="+Inf",version="2"} 3.0' in mine  # NaN in no bucket


def test_added_middleware_sees_invocations(tensor_model, tmp_path):
    path, clf, X = tensor_model
    store = str(tmp_path / "store")
    seen: list[str] = []

    class Tag(BaseHTTPMiddleware):
        async def dispatch(self, request, call_next):
            seen.append(request.url.path)
            response = await call_next(request)
            response.headers["x-tag"] = "1"
            return response

    app = create_app(ServingConfig(model_uri=path, tracking_uri=store, request_log=False, poll_interval=0))
    app.add_middleware(Tag)
    with TestClient(app) as http:
        resp = http.post("/invocations", json={"inputs": X[:2].tolist()})
    assert resp.status_code == 200 and resp.headers["x-tag"] == "1"
    assert resp.json() == {"predictions": clf.predict(X[:2]).tolist()}
    assert resp.headers["x-model-version"] == "local" and resp.headers["x-request-id"]
    assert seen == ["/invocations"]


def test_invocations_without_middleware_answers_like_starlette(tensor_model, tmp_path):
    path, clf, X = tensor_model
    app = create_app(ServingConfig(model_uri=path, tracking_uri=str(tmp_path / "store"), request_log=False,
                                   poll_interval=0, max_request_bytes=4096))
    with TestClient(app) as http:
        ok = http.post("/invocations", json={"inputs": X[:1].tolist()}, headers={"x-request-id": "mine"})
        bad = http.post("/invocations", content=b"{nope", headers={"content-type": "application/json"})
        too_big = http.post("/invocations", content=b"x" * 5000, headers={"content-type": "application/json"})
        wrong_method = http.get("/invocations")
    assert ok.status_code == 200 and ok.json() == {"predictions": clf.predict(X[:1]).tolist()}
    assert [k for k in ok.headers if k.startswith("x-") or k.startswith("content-")] == [
        "x-model-name", "x-model-version", "x-request-id", "content-length", "content-type",
        "x-frame-options", "x-content-type-options"]  # the last two: the guard's, on every answer
    assert ok.headers["x-request-id"] == "mine" and ok.headers["content-type"] == "application/json"
    assert bad.status_code == 400 and bad.json()["error_code"] == "MALFORMED_REQUEST"
    assert too_big.status_code == 413 and "exceeds the limit" in too_big.json()["message"]
    assert wrong_method.status_code == 405
