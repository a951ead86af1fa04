"""MLflow 3.17's tracing API, driven by the official client against a live server (SQLite and PostgreSQL).

Spans travel as OTLP protobuf to ``/v1/traces`` and the trace info to
``/api/3.0/mlflow/traces``; reads come back through ``traces/get``,
``traces/batchGet`` and ``traces/search``. Trace logging is made synchronous
so a trace is on the server when the traced call returns.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import time
from typing import Any

import pytest

from .conftest import assert_error

# Trace logging synchronous: a trace is on the server when the traced call returns (conftest's fixture).
pytestmark = pytest.mark.usefixtures("sync_trace_export")


def _traced_chain(question: str, *, fail: bool = False, tags: dict[str, str] | None = None) -> str:
    import mlflow
    from mlflow.entities import SpanType

    @mlflow.trace(span_type=SpanType.LLM)
    def llm(prompt: str) -> str:
        if fail:
            raise ValueError("model refused")
        return prompt.upper()

    @mlflow.trace(name="chain", span_type=SpanType.CHAIN)
    def chain(q: str) -> str:
        with mlflow.start_span("retrieve", span_type=SpanType.RETRIEVER) as span:
            span.set_inputs({"query": q})
            span.set_outputs(["doc-1", "doc-2"])
            span.set_attribute("model", "gpt-test")
            span.set_attribute("top_k", 2)
        mlflow.update_current_trace(tags=tags or {})
        return llm(q)

    try:
        chain(question)
    except ValueError:
        pass
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id
    return trace_id


def test_traced_function_round_trips_spans_and_tags(exp):
    import mlflow

    trace_id = _traced_chain("hello", tags={"team": "search"})
    trace = mlflow.get_trace(trace_id)
    assert trace.info.state == "OK"
    assert trace.info.experiment_id == exp
    assert trace.info.tags["team"] == "search"
    assert trace.info.tags["mlflow.traceName"] == "chain"
    assert trace.info.tags["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    names = [s.name for s in trace.data.spans]
    assert names[0] == "chain" and sorted(names) == ["chain", "llm", "retrieve"]
    by_name = {s.name: s for s in trace.data.spans}
    assert by_name["chain"].parent_id is None
    assert by_name["retrieve"].parent_id == by_name["chain"].span_id
    assert by_name["retrieve"].span_type == "RETRIEVER" and by_name["llm"].span_type == "LLM"
    assert by_name["retrieve"].inputs == {"query": "hello"}
    assert by_name["retrieve"].outputs == ["doc-1", "doc-2"]
    assert by_name["retrieve"].get_attribute("top_k") == 2
    assert by_name["chain"].outputs == "HELLO"
    assert trace.info.request_time > 0 and trace.info.execution_duration is not None


def test_failing_span_marks_the_trace_error(exp):
    import mlflow

    trace_id = _traced_chain("boom", fail=True)
    trace = mlflow.get_trace(trace_id)
    assert trace.info.state == "ERROR"
    llm = next(s for s in trace.data.spans if s.name == "llm")
    assert llm.status.status_code == "ERROR"
    assert any(e.name == "exception" for e in llm.events)
    found = mlflow.search_traces(locations=[exp], filter_string="trace.status = 'ERROR'", return_type="list")
    assert [t.info.trace_id for t in found] == [trace_id]


def test_search_filters(exp):
    import mlflow

    a = _traced_chain("one", tags={"team": "search"})
    b = _traced_chain("two", tags={"team": "ads"})

    def ids(filter_string: str) -> set[str]:
        return {t.info.trace_id for t in mlflow.search_traces(
            locations=[exp], filter_string=filter_string, return_type="list")}

    assert ids("tags.team = 'search'") == {a}
    assert ids("tags.team LIKE 'a%'") == {b}
    assert ids("span.name = 'retrieve'") == {a, b}
    assert ids("span.type = 'LLM' AND tags.team = 'ads'") == {b}
    assert ids("span.status = 'ERROR'") == set()
    assert ids("span.attributes.model = 'gpt-test'") == {a, b}
    assert ids("span.attributes.model = 'other'") == set()
    assert ids("trace.name = 'chain'") == {a, b}
    assert ids(f"trace.request_id IN ('{a}')") == {a}
    assert ids("trace.timestamp_ms > 0 AND trace.execution_time_ms >= 0") == {a, b}
    assert ids("trace.text LIKE '%two%'") == {b}
    infos = mlflow.search_traces(locations=[exp], return_type="list", include_spans=False)
    assert [t.info.trace_id for t in infos] == [b, a]  # newest first
    oldest_first = mlflow.search_traces(locations=[exp], return_type="list", order_by=["timestamp_ms ASC"])
    assert [t.info.trace_id for t in oldest_first] == [a, b]


def test_search_pages(exp, client):
    made = [_traced_chain(f"q{i}") for i in range(5)]
    seen: list[str] = []
    token = None
    for _ in range(10):
        page = client.search_traces(locations=[exp], max_results=2, page_token=token, include_spans=False)
        seen += [t.info.trace_id for t in page]
        token = page.token
        if not token:
            break
    assert seen == made[::-1]


def test_tags_set_and_delete(exp, client):
    trace_id = _traced_chain("tags")
    client.set_trace_tag(trace_id, "reviewed", "yes")
    assert client.get_trace(trace_id).info.tags["reviewed"] == "yes"
    client.delete_trace_tag(trace_id, "reviewed")
    assert "reviewed" not in client.get_trace(trace_id).info.tags


def test_delete_traces(exp, client):
    import mlflow

    first = _traced_chain("a")
    second = _traced_chain("b")
    assert client.delete_traces(exp, trace_ids=[first]) == 1
    left = [t.info.trace_id for t in mlflow.search_traces(locations=[exp], return_type="list")]
    assert left == [second]
    assert client.delete_traces(exp, max_timestamp_millis=int(time.time() * 1000) + 60_000) == 1
    assert mlflow.search_traces(locations=[exp], return_type="list") == []


def test_traces_linked_to_runs(exp, client):
    import mlflow

    outside = _traced_chain("outside")
    with mlflow.start_run() as run:
        inside = _traced_chain("inside")
    assert mlflow.get_trace(inside).info.trace_metadata["mlflow.sourceRun"] == run.info.run_id
    found = mlflow.search_traces(locations=[exp], run_id=run.info.run_id, return_type="list")
    assert [t.info.trace_id for t in found] == [inside]
    client.link_traces_to_run([outside], run.info.run_id)
    found = mlflow.search_traces(locations=[exp], run_id=run.info.run_id, return_type="list")
    assert {t.info.trace_id for t in found} == {inside, outside}


def test_assessments(exp):
    import mlflow
    from mlflow.entities import AssessmentSource, Feedback

    trace_id = _traced_chain("judge me")
    human = AssessmentSource(source_type="HUMAN", source_id="ana@example.com")
    fb = mlflow.log_feedback(trace_id=trace_id, name="correct", value=True, rationale="matches", source=human)
    ex = mlflow.log_expectation(trace_id=trace_id, name="answer", value="JUDGE ME", source=human)
    got = mlflow.get_assessment(trace_id, fb.assessment_id)
    assert got.value is True and got.rationale == "matches" and got.source.source_id == "ana@example.com"
    assert {a.name for a in mlflow.get_trace(trace_id).info.assessments} == {"correct", "answer"}

    def ids(filter_string: str) -> list[str]:
        return [t.info.trace_id for t in mlflow.search_traces(
            locations=[exp], filter_string=filter_string, return_type="list")]

    assert ids("feedback.correct = 'true'") == [trace_id]
    assert ids("expectation.answer = 'JUDGE ME'") == [trace_id]
    mlflow.log_feedback(trace_id=trace_id, name="score", value=0.85, source=human)
    assert ids("feedback.score >= 0.8") == [trace_id]
    assert ids("feedback.score > 10") == []  # a number, not text: '0.85' > '10' as text

    updated = mlflow.update_assessment(trace_id, fb.assessment_id, Feedback(name="correct", value=False))
    assert updated.value is False
    assert ids("feedback.correct = 'true'") == []

    override = mlflow.override_feedback(trace_id=trace_id, assessment_id=fb.assessment_id, value=True,
                                        rationale="second look")
    old = mlflow.get_assessment(trace_id, fb.assessment_id)
    assert old.valid is False and override.overrides == fb.assessment_id
    mlflow.delete_assessment(trace_id, override.assessment_id)
    assert mlflow.get_assessment(trace_id, fb.assessment_id).valid is True
    mlflow.delete_assessment(trace_id, ex.assessment_id)
    assert [a.name for a in mlflow.get_trace(trace_id).info.assessments] == ["correct", "score"]


# ---- raw HTTP: OTLP from any OpenTelemetry exporter, paged spans, errors ---------------------------------


def _otlp_json(trace_hex: str, n_spans: int) -> dict[str, Any]:
    root = "a" * 16
    spans = [{"traceId": trace_hex, "spanId": root, "name": "root", "startTimeUnixNano": "1000000000",
              "endTimeUnixNano": "3000000000", "status": {"code": 1},
              "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "tiny"}}]}]
    for i in range(1, n_spans):
        spans.append({"traceId": trace_hex, "spanId": f"{i:016x}", "parentSpanId": root, "name": f"step-{i}",
                      "startTimeUnixNano": str(1000000000 + i), "endTimeUnixNano": str(2000000000 + i),
                      "attributes": [{"key": "i", "value": {"intValue": str(i)}}]})
    return {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}


def test_otlp_json_and_paged_spans(exp, http, client):
    trace_hex = os.urandom(16).hex()
    body = gzip.compress(json.dumps(_otlp_json(trace_hex, 25)).encode())
    r = http.post("/v1/traces", content=body, headers={
        "content-type": "application/json", "content-encoding": "gzip", "x-mlflow-experiment-id": exp})
    assert r.status_code == 200, r.text
    trace_id = f"tr-{trace_hex}"
    seen: list[str] = []
    token = None
    for _ in range(10):
        params: dict[str, Any] = {"trace_id": trace_id, "max_spans": 10}
        if token:
            params["page_token"] = token
        page = http.get("/api/3.0/mlflow/traces/get", params=params).json()
        seen += [base64.b64decode(s["span_id"]).hex() for s in page["trace"]["spans"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert len(seen) == 25 and len(set(seen)) == 25 and seen[0] == "a" * 16
    trace = client.get_trace(trace_id)  # the official client reads a trace no MLflow client wrote
    assert trace.info.state == "OK" and len(trace.data.spans) == 25
    assert trace.data.spans[0].get_attribute("gen_ai.request.model") == "tiny"
    found = client.search_traces(locations=[exp], filter_string="span.attributes.i = '7'")
    assert [t.info.trace_id for t in found] == [trace_id]


def test_otlp_run_header_links_the_traces(exp, http, client):
    run = client.create_run(exp)
    trace_hex = os.urandom(16).hex()
    headers = {"content-type": "application/json", "x-mlflow-experiment-id": exp,
               "x-mlflow-run-id": run.info.run_id}
    r = http.post("/v1/traces", content=json.dumps(_otlp_json(trace_hex, 2)), headers=headers)
    assert r.status_code == 200, r.text
    found = client.search_traces(locations=[exp], filter_string=f"trace.run_id = '{run.info.run_id}'")
    assert [t.info.trace_id for t in found] == [f"tr-{trace_hex}"]
    r = http.post("/v1/traces", content=json.dumps(_otlp_json(trace_hex, 2)),
                  headers={**headers, "x-mlflow-run-id": "0" * 32})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST", mentions="x-mlflow-run-id")


def test_otlp_errors(exp, http):
    r = http.post("/v1/traces", content=b"\x0a\xff\xff", headers={
        "content-type": "application/x-protobuf", "x-mlflow-experiment-id": exp})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", mentions="ExportTraceServiceRequest")
    ok_body = json.dumps(_otlp_json(os.urandom(16).hex(), 1))
    r = http.post("/v1/traces", content=ok_body, headers={"content-type": "application/json"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", mentions="x-mlflow-experiment-id")
    r = http.post("/v1/traces", content=ok_body, headers={"content-type": "application/json",
                                                           "x-mlflow-experiment-id": "987654"})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST", mentions="987654")
    r = http.post("/v1/traces", content=ok_body, headers={"content-type": "text/plain", "x-mlflow-experiment-id": exp})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", mentions="application/x-protobuf")
    bad_id = json.dumps(_otlp_json("abcd", 1))
    r = http.post("/v1/traces", content=bad_id, headers={"content-type": "application/json",
                                                          "x-mlflow-experiment-id": exp})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", mentions="trace_id must be 16 bytes")


def test_api_errors(exp, http):
    missing = "tr-" + "0" * 32
    assert_error(http.get(f"/api/3.0/mlflow/traces/{missing}"), 404, "RESOURCE_DOES_NOT_EXIST", mentions=missing)
    assert_error(http.get("/api/3.0/mlflow/traces/get", params={"trace_id": missing}), 404,
                 "RESOURCE_DOES_NOT_EXIST", mentions=missing)
    search = "/api/3.0/mlflow/traces/search"
    loc = [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}}]
    assert_error(http.post(search, json={"locations": loc, "filter": "span.colour = 'red'"}), 400,
                 "INVALID_PARAMETER_VALUE", mentions="span attribute 'colour'")
    assert_error(http.post(search, json={"locations": loc, "filter": "tags.x = 'a' OR tags.y = 'b'"}), 400,
                 "INVALID_PARAMETER_VALUE", mentions="OR")
    assert_error(http.post(search, json={"locations": loc, "page_token": "???"}), 400,
                 "INVALID_PARAMETER_VALUE", mentions="page_token")
    assert_error(http.post(search, json={"locations": loc, "max_results": 100000}), 400,
                 "INVALID_PARAMETER_VALUE", mentions="max_results")
    assert_error(http.post(search, json={}), 400, "INVALID_PARAMETER_VALUE", mentions="locations")
    assert_error(http.post("/api/3.0/mlflow/traces", json={"trace": {"trace_info": {"trace_id": "tr-1"}}}), 400,
                 "INVALID_PARAMETER_VALUE", mentions="experiment_id")
    info = {"trace_id": "tr-" + "1" * 32, "request_time": "yesterday",
            "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}}}
    assert_error(http.post("/api/3.0/mlflow/traces", json={"trace": {"trace_info": info}}), 400,
                 "INVALID_PARAMETER_VALUE", mentions="request_time")
    assert_error(http.post("/api/2.0/mlflow/traces/delete-traces", json={"experiment_id": exp}), 400,
                 "INVALID_PARAMETER_VALUE", mentions="max_timestamp_millis")
    assert_error(http.post(f"/api/3.0/mlflow/traces/{missing}/assessments",
                           json={"assessment": {"assessment_name": "x", "feedback": {"value": 1}}}),
                 404, "RESOURCE_DOES_NOT_EXIST", mentions=missing)


def test_odd_otlp_input_is_stored_or_refused_never_a_500(exp, http, client):
    headers = {"content-type": "application/json", "x-mlflow-experiment-id": exp}
    trace_hex = os.urandom(16).hex()
    odd = _otlp_json(trace_hex, 2)
    span = odd["resourceSpans"][0]["scopeSpans"][0]["spans"][1]
    span["name"] = "nul\x00name"
    span["attributes"].append({"key": "text", "value": {"stringValue": "a\x00b"}})
    span["attributes"].append({"key": "nested", "value": {"kvlistValue": {"values": [
        {"key": "list", "value": {"arrayValue": {"values": [{"intValue": "1"}, {"doubleValue": 2.5}]}}}]}}})
    r = http.post("/v1/traces", content=json.dumps(odd), headers=headers)
    assert r.status_code == 200, r.text
    stored = {s.name: s for s in client.get_trace(f"tr-{trace_hex}").data.spans}
    assert stored["nulname"].get_attribute("nested") == {"list": [1, 2.5]}
    assert stored["nulname"].get_attribute("text") == "a\x00b"

    too_late = _otlp_json(os.urandom(16).hex(), 1)
    too_late["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["startTimeUnixNano"] = str(2**64 - 1)
    for body, mention in (
        (json.dumps(too_late), "nanoseconds"),
        (json.dumps({"resourceSpans": "nope"}), "resourceSpans"),
        (json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}), "hex"),
        (json.dumps([1, 2]), "resourceSpans"),
        ("{not json", "Malformed"),
    ):
        assert_error(http.post("/v1/traces", content=body, headers=headers), 400, "INVALID_PARAMETER_VALUE",
                     mentions=mention)
    r = http.post("/v1/traces", content=b"not gzip", headers={**headers, "content-encoding": "gzip"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", mentions="gzip")

    trace_id = f"tr-{trace_hex}"
    url = f"/api/3.0/mlflow/traces/{trace_id}/assessments"
    assert_error(http.post(url, json={"assessment": {"assessment_name": "x", "feedback": "yes"}}), 400,
                 "INVALID_PARAMETER_VALUE", mentions="assessment.feedback")
    assert_error(http.post(url, json={"assessment": {"assessment_name": "x"}}), 400,
                 "INVALID_PARAMETER_VALUE", mentions="feedback")
    search = "/api/3.0/mlflow/traces/search"
    loc = [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}}]
    assert_error(http.post(search, json={"locations": loc, "filter": "trace.timestamp_ms > 1e30"}), 400,
                 "INVALID_PARAMETER_VALUE", mentions="out of range")


def test_concurrent_batches_of_the_same_traces_all_land(exp, server, client):
    """Four senders at once, each with every trace of a set (spans split between them, some sent twice)."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    traces = [os.urandom(16).hex() for _ in range(8)]

    def batch(sender: int) -> int:
        spans = []
        for trace_hex in traces:
            full = _otlp_json(trace_hex, 9)["resourceSpans"][0]["scopeSpans"][0]["spans"]
            spans += [full[0]] + full[1 + sender * 2: 3 + sender * 2]
        body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans[::-1] if sender % 2 else spans}]}]})
        with httpx.Client(base_url=server.url, timeout=60) as http:
            return http.post("/v1/traces", content=body, headers={
                "content-type": "application/json", "x-mlflow-experiment-id": exp}).status_code

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(batch, range(4))) == [200] * 4
    for trace_hex in traces:
        assert len(client.get_trace(f"tr-{trace_hex}").data.spans) == 9


def test_sessions_and_users(exp):
    import mlflow

    @mlflow.trace
    def turn(session: str, user: str, text: str) -> str:
        mlflow.update_current_trace(session_id=session, user=user)
        return text.upper()

    for session, user, text in (("s-1", "ann", "hi"), ("s-2", "bob", "hello"), ("s-1", "ann", "bye")):
        turn(session, user, text)
    sessions = mlflow.search_sessions(locations=[exp], include_spans=False)
    by_id = {s.id: [t.info.request_preview for t in s] for s in sessions}
    assert set(by_id) == {"s-1", "s-2"}
    assert len(by_id["s-1"]) == 2 and len(by_id["s-2"]) == 1
    found = mlflow.search_traces(locations=[exp], filter_string="metadata.`mlflow.trace.user` = 'bob'",
                                 return_type="list")
    assert [t.info.trace_metadata["mlflow.trace.session"] for t in found] == ["s-2"]
