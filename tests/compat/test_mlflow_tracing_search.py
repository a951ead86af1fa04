"""``search_traces`` filters as MLflow's own server tests check them (its SQL store's trace search
tests: span content and attributes, feedback and expectation values, client request ids, names and
tags with LIKE/ILIKE, assessments IS NULL), driven by the official 3.17 client against a live server
(SQLite and PostgreSQL). Written from the behaviours those tests state, not from their code."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import unique

# Trace logging synchronous: a trace is on the server when the traced call returns (conftest's fixture).
pytestmark = pytest.mark.usefixtures("sync_trace_export")


def _trace(name: str, span_type: str, attributes: dict[str, Any], *, tags: dict[str, str] | None = None,
           client_request_id: str | None = None) -> str:
    import mlflow

    with mlflow.start_span(name, span_type=span_type) as span:
        span.set_attributes(attributes)
        mlflow.update_current_trace(tags=tags or {}, client_request_id=client_request_id)
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id
    return trace_id


@pytest.fixture
def world(client: Any) -> dict[str, Any]:
    """Four traces: two LLM spans, a retriever, a plain one; feedback, expectations, names and tags."""
    import mlflow
    from mlflow.entities import AssessmentSource

    exp = str(mlflow.set_experiment(unique("trace-search")).experiment_id)
    t1 = _trace("GenerateResponse", "LLM", {"model": "gpt-4", "temperature": 0.7, "max_tokens": 1000},
                tags={"environment": "production-us-east-1"}, client_request_id="client-req-abc")
    t2 = _trace("QueryDatabase", "LLM", {"model": "claude-3", "temperature": 0.5, "provider": "anthropic"},
                tags={"environment": "production-us-west-2"}, client_request_id="client-req-xyz")
    t3 = _trace("GenerateEmbedding", "RETRIEVER", {"database": "pinecone", "top_k": 10, "similarity.threshold": 0.8},
                tags={"environment": "staging-us-east-1"})
    t4 = _trace("Other", "CHAIN", {})
    human = AssessmentSource(source_type="HUMAN", source_id="ana@example.com")
    judge = AssessmentSource(source_type="LLM_JUDGE", source_id="gpt-4")
    code = AssessmentSource(source_type="CODE", source_id="checker")
    mlflow.log_feedback(trace_id=t1, name="correctness", value=True, source=human)
    mlflow.log_feedback(trace_id=t2, name="correctness", value=False, source=judge)
    mlflow.log_feedback(trace_id=t2, name="helpfulness", value=5, source=human)
    mlflow.log_feedback(trace_id=t1, name="quality", value="high", source=human)
    mlflow.log_feedback(trace_id=t1, name="comment", value="Great response! Very helpful.", source=human)
    mlflow.log_feedback(trace_id=t2, name="comment", value="Response was okay but could be better.", source=human)
    mlflow.log_feedback(trace_id=t3, name="comment", value="Not helpful at all.", source=human)
    mlflow.log_expectation(trace_id=t3, name="response_length", value=150, source=code)
    mlflow.log_expectation(trace_id=t4, name="response_length", value=200, source=code)
    mlflow.log_expectation(trace_id=t4, name="latency_ms", value=1000, source=code)
    mlflow.log_expectation(trace_id=t3, name="priority", value="urgent", source=code)
    return {"exp": exp, "t1": t1, "t2": t2, "t3": t3, "t4": t4}


def _ids(world: dict[str, Any], filter_string: str) -> set[str]:
    import mlflow

    found = mlflow.search_traces(locations=[world["exp"]], filter_string=filter_string, return_type="list")
    names = {v: k for k, v in world.items() if k != "exp"}
    return {names[t.info.trace_id] for t in found}


CASES = [
    # span content and attributes
    ("span.content LIKE '%gpt-4%'", {"t1"}),
    ("span.content LIKE '%nonexistent_model%'", set()),
    ("span.type = 'NONEXISTENT'", set()),
    ("span.type = 'LLM' AND span.type = 'RETRIEVER'", set()),
    ("span.attributes.model LIKE '%gpt-4%'", {"t1"}),
    ("span.attributes.temperature LIKE '%0.7%'", {"t1"}),
    ("span.attributes.provider LIKE '%anthropic%'", {"t2"}),
    ("span.attributes.similarity.threshold LIKE '%0.8%'", {"t3"}),
    ("span.attributes.nonexistent LIKE '%value%'", set()),
    # feedback and expectations, values as text
    ("feedback.correctness = 'true'", {"t1"}),
    ("feedback.correctness = 'false'", {"t2"}),
    ("feedback.helpfulness = '5'", {"t2"}),
    ("feedback.quality = 'high'", {"t1"}),
    ("expectation.response_length = '150'", {"t3"}),
    ("expectation.response_length = '200' AND expectation.latency_ms = '1000'", {"t4"}),
    ("expectation.priority = 'urgent'", {"t3"}),
    ("feedback.nonexistent = 'value'", set()),
    ("feedback.comment LIKE '%helpful%'", {"t1", "t3"}),
    ("feedback.comment ILIKE '%GREAT%'", {"t1"}),
    ("feedback.quality IS NULL", {"t2", "t3", "t4"}),
    ("feedback.quality IS NOT NULL", {"t1"}),
    ("expectation.response_length IS NOT NULL", {"t3", "t4"}),
    # client request ids (a trace without one matches no comparison)
    ("trace.client_request_id = 'client-req-abc'", {"t1"}),
    ("trace.client_request_id != 'client-req-abc'", {"t2"}),
    ("trace.client_request_id LIKE '%abc%'", {"t1"}),
    ("trace.client_request_id ILIKE '%ABC%'", {"t1"}),
    # names and tags with patterns
    ("trace.name LIKE 'Generate%'", {"t1", "t3"}),
    ("trace.name LIKE '%Database'", {"t2"}),
    ("trace.name ILIKE '%response%'", {"t1"}),
    ("tag.environment LIKE 'production%'", {"t1", "t2"}),
    ("tag.environment LIKE '%-us-east-1'", {"t1", "t3"}),
    ("tag.environment ILIKE '%PRODUCTION%'", {"t1", "t2"}),
]


def test_filters_as_mlflow_tests_state_them(world):
    wrong = {}
    for flt, want in CASES:
        try:
            got: Any = _ids(world, flt)
        except Exception as exc:  # noqa: BLE001  (every filter is tried; the failures are listed together)
            got = str(exc)[:200]
        if got != want:
            wrong[flt] = (got, want)
    assert wrong == {}


def test_span_filters_hold_of_one_span(client):
    """``span.name = 'search_web' AND span.status = 'OK'`` finds a trace only if one of its spans is both."""
    import mlflow

    exp = str(mlflow.set_experiment(unique("same-span")).experiment_id)
    with mlflow.start_span("root", span_type="CHAIN"):
        with mlflow.start_span("search_web", span_type="TOOL") as failed:
            failed.set_status("ERROR")
        with mlflow.start_span("other_tool", span_type="TOOL"):
            pass
    mixed = mlflow.get_last_active_trace_id()
    with mlflow.start_span("root", span_type="CHAIN"):
        with mlflow.start_span("search_web", span_type="TOOL"):
            pass
    clean = mlflow.get_last_active_trace_id()

    def ids(flt: str) -> set[str]:
        found = mlflow.search_traces(locations=[exp], filter_string=flt, return_type="list")
        return {{mixed: "mixed", clean: "clean"}[t.info.trace_id] for t in found}

    assert ids("span.name = 'search_web' AND span.status = 'OK'") == {"clean"}
    assert ids("span.name = 'search_web' AND span.status = 'ERROR'") == {"mixed"}
    assert ids("span.name = 'other_tool' AND span.status = 'OK'") == {"mixed"}
    assert ids("span.name = 'search_web'") == {"mixed", "clean"}
    assert ids("span.type = 'TOOL' AND span.name LIKE 'other%' AND span.content LIKE '%other_tool%'") == {"mixed"}
    with pytest.raises(Exception, match="Invalid span attribute 'duration'"):
        mlflow.search_traces(locations=[exp], filter_string="span.duration = '1000'")
    with pytest.raises(Exception, match="span.content"):
        mlflow.search_traces(locations=[exp], filter_string="span.content = 'test'")
