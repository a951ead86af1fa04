"""Serving against a tracking *server*: registry over HTTP, request log through the bulk endpoint."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

import modelyard as my
from modelyard.errors import InvalidParameterValue

from .conftest import ServeProcess, register


def test_request_log_through_the_tracking_server(live_server):
    reg = register(live_server.url, f"remote-{uuid.uuid4().hex[:8]}", versions=1)
    proc = ServeProcess(reg.uri(), live_server.url, "--poll-interval", "0")
    try:
        body = {"dataframe_records": reg.frame.iloc[:2].to_dict(orient="records")}
        ids = [httpx.post(proc.url + "/invocations", json=body).headers["x-request-id"] for _ in range(5)]
        assert httpx.post(proc.url + "/feedback", json={"request_id": ids[0], "label": [1, 0]}).status_code == 200
        client = my.Client(live_server.url)
        deadline = time.monotonic() + 20
        rows = []
        while time.monotonic() < deadline and len(rows) < 5:
            rows = client.search_inference_requests(reg.name, "1")
            time.sleep(0.2)
        client.close()
    finally:
        proc.stop()
    assert sorted(r.request_id for r in rows) == sorted(ids)
    labelled = next(r for r in rows if r.request_id == ids[0])
    assert labelled.label == [1, 0]
    assert labelled.outputs == reg.versions[1].predict(reg.frame.iloc[:2]).tolist()


def test_inference_service_rules(service):
    rows = [{"request_id": f"r{i}", "model_name": "m", "model_version": "2", "timestamp_ms": 1000 + i,
             "latency_ms": 1.5, "inputs": {"x": [i]}, "outputs": [i % 2]} for i in range(5)]
    assert service.inference.log_requests(rows) == 5
    assert service.inference.log_requests(rows[:1]) == 1  # a retried row is stored once
    service.inference.log_feedback([{"request_id": "r1", "label": "yes"}])
    service.inference.log_feedback([{"request_id": "r1", "label": "no"}])  # the latest label wins
    found = service.inference.search("m", "2")
    assert [r.request_id for r in found] == ["r4", "r3", "r2", "r1", "r0"]
    assert found[3].label == "no" and found[3].inputs == {"x": [1]} and found[0].label is None
    assert service.inference.search("m", "2", start_time_ms=1003) and len(service.inference.search("m", "3")) == 0
    with pytest.raises(InvalidParameterValue, match=r"requests\[0\]\.model_version"):
        service.inference.log_requests([{"request_id": "x", "model_name": "m"}])
    with pytest.raises(InvalidParameterValue, match=r"feedback\[0\]\.label"):
        service.inference.log_feedback([{"request_id": "x"}])
    with pytest.raises(InvalidParameterValue, match=r"requests\[0\]\.latency_ms"):
        service.inference.log_requests([{**rows[0], "latency_ms": -1}])
