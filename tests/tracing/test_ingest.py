"""Span ingest on a real store (SQLite and PostgreSQL) and through the real app's ``POST /v1/traces``:
a batch finds the traces that exist and creates the others (one alone, or several together), a trace
gets its fixed tags once, when it is created, and the endpoint reads what it needs from the request
the way a Starlette route would (first of a repeated header, last of a repeated query parameter)."""

from __future__ import annotations

import gzip
import json

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.testclient import TestClient

from modelyard.entities.traces import Span, format_timestamp
from modelyard.errors import InvalidParameterValue
from modelyard.server import create_app, otlp
from modelyard.store.traces import ARTIFACT_LOCATION_TAG, SPANS_LOCATION_TAG

T0 = 1_700_000_000_000_000_000


def _span(trace: int, span_id: int, parent: int | None = None, **attributes: object) -> Span:
    return Span(f"tr-{trace:032x}", f"{span_id:016x}", None if parent is None else f"{parent:016x}",
                f"step-{span_id}", "LLM", "OK", None, T0 + span_id * 1000, T0 + 5_000_000,
                dict(attributes), otel_trace_id=f"{trace:032x}")


def _info(trace: int, exp: str, **tags: str) -> dict[str, object]:
    return {"trace_id": f"tr-{trace:032x}", "request_time": format_timestamp(1_700_000_000_000),
            "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}},
            "state": "OK", "tags": tags}


def _protobuf(*spans: Span) -> bytes:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for s in spans:
        sp = scope.spans.add()
        sp.trace_id = bytes.fromhex(s.otel_trace_id)
        sp.span_id = bytes.fromhex(s.span_id)
        if s.parent_span_id:
            sp.parent_span_id = bytes.fromhex(s.parent_span_id)
        sp.name = s.name
        sp.start_time_unix_nano = s.start_time_ns
        sp.end_time_unix_nano = s.end_time_ns or 0
        sp.status.code = 1
        for key, value in s.attributes.items():
            attr = sp.attributes.add()
            attr.key = key
            if isinstance(value, int):
                attr.value.int_value = value
            else:
                attr.value.string_value = str(value)
    return bytes(request.SerializeToString())


def _span_ids(svc, trace: int) -> list[str]:
    _, spans, _ = svc.traces.get_trace(f"tr-{trace:032x}")
    return sorted(s.span_id for s in spans)


def test_a_batch_finds_existing_traces_and_creates_new_ones_alone_or_together(service):
    exp = service.experiments.create("ingest")
    assert service.traces.log_spans(exp, [_span(1, 1)]) == 1  # one new trace: created alone
    assert service.traces.log_spans(exp, [_span(1, 2, 1)]) == 1  # it exists now: found
    # one batch: trace 1 exists, traces 2 and 3 are new (created together), spans out of order
    batch = [_span(3, 31), _span(1, 3, 1), _span(2, 21), _span(2, 22, 21), _span(3, 32, 31)]
    assert service.traces.log_spans(exp, batch) == 5
    assert _span_ids(service, 1) == [f"{i:016x}" for i in (1, 2, 3)]
    assert _span_ids(service, 2) == [f"{i:016x}" for i in (21, 22)]
    assert _span_ids(service, 3) == [f"{i:016x}" for i in (31, 32)]
    for trace in (1, 2, 3):
        info, _, _ = service.traces.get_trace(f"tr-{trace:032x}")
        assert info.experiment_id == exp
        assert info.tags[SPANS_LOCATION_TAG] == "TRACKING_STORE"
        assert info.tags[ARTIFACT_LOCATION_TAG].endswith(f"/traces/tr-{trace:032x}/artifacts")
        assert info.state == "OK"  # from its root span, the info not sent yet
    # a span sent again is stored once
    assert service.traces.log_spans(exp, [_span(2, 22, 21)]) == 1
    assert _span_ids(service, 2) == [f"{i:016x}" for i in (21, 22)]


def test_fixed_tags_are_written_when_the_trace_is_created_only(service):
    exp = service.experiments.create("tags")
    service.traces.log_spans(exp, [_span(5, 1)])
    service.traces.delete_tag(f"tr-{5:032x}", ARTIFACT_LOCATION_TAG)
    service.traces.log_spans(exp, [_span(5, 2, 1)])  # the trace exists: its tags are left as they are
    info, _, _ = service.traces.get_trace(f"tr-{5:032x}")
    assert ARTIFACT_LOCATION_TAG not in info.tags
    assert info.tags[SPANS_LOCATION_TAG] == "TRACKING_STORE"
    # the info first, then its spans: the info's tags stand, the spans join the trace
    service.traces.start_trace(_info(6, exp, team="search"))
    service.traces.log_spans(exp, [_span(6, 1), _span(6, 2, 1)])
    info, spans, _ = service.traces.get_trace(f"tr-{6:032x}")
    assert info.tags["team"] == "search" and info.tags[SPANS_LOCATION_TAG] == "TRACKING_STORE"
    assert len(spans) == 2


def test_integer_attributes_are_searchable_as_their_json_text(service):
    exp = service.experiments.create("ints")
    service.traces.log_spans(exp, [_span(7, 1, level=20, flag=True), _span(8, 1, level=10)])
    found, _ = service.traces.search([exp], "span.attributes.level = '20'")
    assert [i.trace_id for i in found] == [f"tr-{7:032x}"]
    found, _ = service.traces.search([exp], "span.attributes.flag = 'true'")
    assert [i.trace_id for i in found] == [f"tr-{7:032x}"]


@pytest.fixture
def http(service):
    with TestClient(create_app(service=service)) as client:
        yield client


def test_the_endpoint_reads_the_request_as_a_route_would(service, http):
    exp = service.experiments.create("endpoint")
    other = service.experiments.create("other")
    r = http.post("/v1/traces", content=_protobuf(_span(10, 1)),
                  headers={"content-type": "application/x-protobuf", "x-mlflow-experiment-id": exp})
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-type"] == "application/x-protobuf"
    # the experiment in the query string (its last value), the body gzipped, the answer in JSON
    body = gzip.compress(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [_span(11, 1).to_otlp_json()]}]}]})
                         .encode())
    r = http.post(f"/v1/traces?experiment_id=987654&experiment_id={other}", content=body,
                  headers={"content-type": "application/json; charset=utf-8", "content-encoding": "gzip"})
    assert r.status_code == 200 and r.json() == {}
    assert r.headers["content-type"] == "application/json"
    info, _, _ = service.traces.get_trace(f"tr-{11:032x}")
    assert info.experiment_id == other
    # a repeated header: its first value, as Starlette's Headers.get
    r = http.post("/v1/traces", content=_protobuf(_span(12, 1)), headers=[
        ("content-type", "application/x-protobuf"), ("x-mlflow-experiment-id", exp),
        ("x-mlflow-experiment-id", other)])
    assert r.status_code == 200
    info, _, _ = service.traces.get_trace(f"tr-{12:032x}")
    assert info.experiment_id == exp
    # errors are the app's JSON errors
    r = http.post("/v1/traces", content=_protobuf(_span(13, 1)),
                  headers={"content-type": "application/x-protobuf", "x-mlflow-experiment-id": "987654"})
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    r = http.post("/v1/traces", content=b"x", headers={"content-type": "text/plain", "x-mlflow-experiment-id": exp})
    assert r.status_code == 400 and "application/x-protobuf" in r.json()["message"]
    r = http.get("/v1/traces")
    assert r.status_code == 405


def _varint(n: int) -> bytes:
    out = b""
    while True:
        out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
        n >>= 7
        if not n:
            return out


def _request_of(span: bytes) -> bytes:
    """An ExportTraceServiceRequest of one span given as its bytes (which OpenTelemetry's classes may refuse)."""
    scope = b"\x12" + _varint(len(span)) + span
    resource = b"\x12" + _varint(len(scope)) + scope
    return b"\x0a" + _varint(len(resource)) + resource


def test_protobuf_spans_read_every_value_as_opentelemetry_writes_it():
    from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtelSpan

    request = ExportTraceServiceRequest()
    sp = request.resource_spans.add().scope_spans.add().spans.add()
    sp.trace_id, sp.span_id, sp.parent_span_id = b"\x01" * 16, b"\x02" * 8, b"\x03" * 8
    sp.name, sp.start_time_unix_nano, sp.end_time_unix_nano = "näme", T0, T0 + 5
    sp.status.code, sp.status.message = 2, "boom"
    values = {"short": "hello", "empty": "", "unicode": "héllo ✓", "long": "x" * 127, "longer": "y" * 300,
              "int": -7, "double": 2.5, "bool": True, "bytes": b"\x00\xff", "array": ["a", 1],
              "kvlist": {"k": {"n": 1}}, "nothing": None}
    for key, value in values.items():
        attr = sp.attributes.add()
        attr.key = key
        target = attr.value
        if key == "array":
            target.array_value.values.add().string_value = "a"
            target.array_value.values.add().int_value = 1
        elif key == "kvlist":
            inner = target.kvlist_value.values.add()
            inner.key = "k"
            leaf = inner.value.kvlist_value.values.add()
            leaf.key, leaf.value.int_value = "n", 1
        elif value is not None:
            setattr(target, {str: "string_value", int: "int_value", float: "double_value", bool: "bool_value",
                             bytes: "bytes_value"}[type(value)], value)
    event = sp.events.add()
    event.name, event.time_unix_nano = "retry", T0 + 1
    event.attributes.add().key = "attempt"
    event.attributes[0].value.int_value = 2
    (span,) = otlp.decode(bytes(request.SerializeToString()), "application/x-protobuf")
    assert span.attributes == {**values, "bytes": "00ff"}  # bytes as hex, as before
    assert (span.trace_id, span.span_id, span.parent_span_id) == ("tr-" + "01" * 16, "02" * 8, "03" * 8)
    assert (span.name, span.status, span.status_message, span.start_time_ns, span.end_time_ns) == (
        "näme", "ERROR", "boom", T0, T0 + 5)
    assert span.events == [{"name": "retry", "time_unix_nano": T0 + 1, "attributes": {"attempt": 2}}]

    # A string value that is not UTF-8, or an AnyValue cut short: the 400 of a body that is not protobuf.
    whole = OtelSpan(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="s").SerializeToString()
    for value in (b"\x0a\x02\xff\xfe", b"\x0a", b"\x0a\x05ab"):
        attribute = b"\x0a\x01k\x12" + _varint(len(value)) + value
        with pytest.raises(InvalidParameterValue, match="ExportTraceServiceRequest"):
            otlp.decode(_request_of(whole + b"\x4a" + _varint(len(attribute)) + attribute), "application/x-protobuf")


def test_protobuf_spans_are_checked_and_cleaned_on_either_way_through_the_decoder():
    # Most spans take the decoder's short way (no call a span); a NUL in the name, a span type that is not a
    # string, a bad id or time take the checked one: both must give what the JSON decoder gives.
    def body(*spans: dict[str, object]) -> bytes:
        request = ExportTraceServiceRequest()
        out = request.resource_spans.add().scope_spans.add().spans
        for given in spans:
            sp = out.add()
            sp.trace_id, sp.span_id = given.get("trace_id", b"\x01" * 16), given.get("span_id", b"\x02" * 8)
            sp.parent_span_id = given.get("parent", b"")
            sp.name, sp.start_time_unix_nano, sp.end_time_unix_nano = given["name"], T0, given.get("end", T0 + 5)
            for key, value in given.get("attributes", {}).items():  # type: ignore[attr-defined]
                attr = sp.attributes.add()
                attr.key = key
                setattr(attr.value, "int_value" if isinstance(value, int) else "string_value", value)
        return bytes(request.SerializeToString())

    request_id = {"mlflow.traceRequestId": "tr-" + "01" * 16}
    spans = otlp.decode(body(
        {"name": "plain", "attributes": {**request_id, "mlflow.spanType": "LLM"}},
        {"name": "long type", "attributes": {"mlflow.spanType": "T" * 150}},
        {"name": "n\x00ul", "attributes": {**request_id, "mlflow.spanType": "C\x00HAIN"}},
        {"name": "int type", "attributes": {"mlflow.spanType": 5}},
        {"name": "no type", "attributes": {"k": "v"}}), "application/x-protobuf")
    assert [(s.name, s.type, s.attributes) for s in spans] == [
        ("plain", "LLM", {"mlflow.spanType": "LLM"}),
        ("long type", "T" * 100, {"mlflow.spanType": "T" * 150}),
        ("nul", "CHAIN", {"mlflow.spanType": "C\x00HAIN"}),
        ("int type", None, {"mlflow.spanType": 5}),
        ("no type", None, {"k": "v"})]
    as_json = [s.to_otlp_json() for s in spans]
    again = otlp.decode(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": as_json}]}]}).encode(),
                        "application/json")
    assert again == spans
    for bad, message in (({"trace_id": b"\x01" * 15}, "trace_id must be 16 bytes"),
                         ({"parent": b"\x03" * 4}, "parent_span_id must be 8 bytes"),
                         ({"end": 2**63}, "at most 9223372036854775807")):
        with pytest.raises(InvalidParameterValue, match=message):
            otlp.decode(body({"name": "bad", **bad}), "application/x-protobuf")


def test_the_info_after_the_spans_wins_and_what_it_leaves_out_stays(service):
    exp = service.experiments.create("info-after")
    trace_id = f"tr-{20:032x}"
    service.traces.log_spans(exp, [_span(20, 2, 1), _span(20, 1, mlflow_spanInputs="q")])
    service.traces.set_tag(trace_id, "kept", "yes")
    info = {**_info(20, exp, team="search"), "trace_metadata": {"mlflow.trace.user": "ann", "m": "1"},
            "execution_duration": "0.004s", "request_preview": "asked"}
    stored = service.traces.start_trace(info)
    assert stored == service.traces.get_info(trace_id)  # what it answers is what is stored
    assert stored.request_time_ms == 1_700_000_000_000 and stored.execution_time_ms == 4 and stored.state == "OK"
    assert stored.request_preview == "asked" and stored.tags["team"] == "search" and stored.tags["kept"] == "yes"
    assert stored.tags[SPANS_LOCATION_TAG] == "TRACKING_STORE" and stored.metadata == {"mlflow.trace.user": "ann", "m": "1"}
    for name in ("b", "a", "c"):  # in the answer as stored: by creation time, then id
        service.assessments.create({"trace_id": trace_id, "assessment_name": name, "feedback": {"value": 1}})
    # sent again with less: what it leaves out stays (previews, user), what it says wins
    again = service.traces.start_trace({**_info(20, exp), "state": "ERROR", "trace_metadata": {"m": "2"}})
    assert again == service.traces.get_info(trace_id)
    assert again.state == "ERROR" and again.request_preview == "asked" and again.execution_time_ms is None
    assert again.metadata == {"mlflow.trace.user": "ann", "m": "2"} and again.tags["team"] == "search"
    assert sorted(a["assessment_name"] for a in again.assessments) == ["a", "b", "c"]
    found, _ = service.traces.search([exp], "metadata.mlflow.trace.user = 'ann'")
    assert [i.trace_id for i in found] == [trace_id]
    found, _ = service.traces.search([exp], "trace.status = 'ERROR'")
    assert [i.trace_id for i in found] == [trace_id]
