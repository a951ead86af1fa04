"""Trace redaction with the official mlflow 3.17 client against a live server started with
``MODELYARD_TRACE_REDACT_PATTERNS``: what the client sends is redacted before it is stored, and the
client reads back the redacted trace. Then every trace of the user is deleted (our extension)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer

from .conftest import mlflow_client_on, unique

EMAIL = r"[\w.+-]+@[\w-]+\.[\w.]+"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("compat-redaction")
    saved = {k: os.environ.get(k) for k in ("MODELYARD_TRACE_REDACT_PATTERNS", "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING")}
    os.environ["MODELYARD_TRACE_REDACT_PATTERNS"] = json.dumps([EMAIL])
    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    try:
        live = LiveServer(f"sqlite:///{folder / 'store.db'}", str(folder / "artifacts"))
    finally:
        if saved["MODELYARD_TRACE_REDACT_PATTERNS"] is None:
            os.environ.pop("MODELYARD_TRACE_REDACT_PATTERNS")
    try:
        yield live
    finally:
        live.stop()
        if saved["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] is None:
            os.environ.pop("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", None)
        else:
            os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = saved["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"]


def test_the_official_client_sends_and_reads_back_redacted_traces(server: LiveServer) -> None:
    import mlflow

    with mlflow_client_on(server.url):
        exp = mlflow.set_experiment(unique("redacted")).experiment_id

        @mlflow.trace(name="support")
        def answer(question: str) -> str:
            mlflow.update_current_trace(tags={"contact": "ana@corp.io"}, metadata={"mlflow.trace.user": "ana"})
            with mlflow.start_span("lookup") as span:
                span.set_attribute("customer.email", "ana@corp.io")
            return f"We wrote to ana@corp.io about: {question}"

        answer("my mail is ana@corp.io, refund?")
        trace_id = mlflow.get_last_active_trace_id()
        assert trace_id
        trace = mlflow.get_trace(trace_id)
        stored: Any = json.dumps(trace.to_dict())
        assert "ana@corp.io" not in stored and "[REDACTED]" in stored
        root = next(s for s in trace.data.spans if s.parent_id is None)
        assert root.inputs == {"question": "my mail is [REDACTED], refund?"}
        assert trace.info.tags["contact"] == "[REDACTED]"
        assert mlflow.search_traces(locations=[exp], filter_string="span.attributes.customer.email = 'ana@corp.io'",
                                    return_type="list") == []
        found = mlflow.search_traces(locations=[exp], filter_string="span.attributes.customer.email = '[REDACTED]'",
                                     return_type="list")
        assert [t.info.trace_id for t in found] == [trace_id]
        r = httpx.post(f"{server.url}/api/2.0/modelyard/traces/delete-of", json={"experiment_id": exp, "user": "ana"})
        assert r.status_code == 200 and r.json() == {"traces_deleted": 1}
        assert mlflow.search_traces(locations=[exp], return_type="list") == []
