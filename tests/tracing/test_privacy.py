"""Privacy of traces on a real store (SQLite and PostgreSQL): redaction before storage on every way
in (OTLP, start_trace, the SDK's embedded batches), bounded payloads with whole copies as artifacts,
and deleting every trace of one user or one session (MANAGE)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from modelyard.entities.traces import Span, format_timestamp
from modelyard.errors import InvalidParameterValue
from modelyard.server import create_app

from ..conftest import make_service

EMAIL = r"[\w.+-]+@[\w-]+\.[\w.]+"
CARD = r"\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b"


def _span(trace: int, span_id: int, parent: int | None, **attributes: object) -> Span:
    return Span(f"tr-{trace:032x}", f"{span_id:016x}", None if parent is None else f"{parent:016x}", "step",
                "LLM", "OK", "failed for bob@corp.io" if parent else None, 1_700_000_000_000_000_000 + span_id,
                1_700_000_000_001_000_000, dict(attributes), otel_trace_id=f"{trace:032x}",
                events=[{"name": "retry", "time_unix_nano": 1, "attributes": {"to": "eve@corp.io"}}])


def _info(trace: int, exp: str, **metadata: str) -> dict:
    return {"trace_id": f"tr-{trace:032x}", "request_time": format_timestamp(1_700_000_000_000),
            "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}},
            "state": "OK", "request_preview": '{"q": "mail ana@corp.io"}', "response_preview": "card 4111 1111 1111 1111",
            "tags": {"team": "ana@corp.io", "mlflow.traceName": "chat"}, "trace_metadata": metadata}


@pytest.fixture
def private(db_uri, tmp_path):
    svc = make_service(db_uri, tmp_path, trace_redact_patterns=json.dumps([EMAIL, CARD]),
                       trace_redact_function="tests.tracing.redact_hook:redact", trace_max_payload_chars=200)
    yield svc
    svc.close()


def _stored(svc, trace_id: str) -> str:
    """Everything the store holds of a trace, as text."""
    info, spans, _ = svc.traces.get_trace(trace_id)
    return json.dumps(info.to_dict()) + "".join(s.content for s in spans)


def test_redaction_applies_before_storage_on_every_way_in(private, tmp_path):
    exp = private.experiments.create("private")
    attrs = {"mlflow.spanInputs": json.dumps({"q": "write to ana@corp.io", "card": "4111-1111-1111-1111"}),
             "mlflow.spanOutputs": json.dumps("sent to ana@corp.io"), "customer.name": "Ana Lopez",
             "customer.secret": "hunter2", "api_key": "sk-123", "email": "ana@corp.io", "tokens": 12}
    # 1. OTLP JSON through the server's route, as any OpenTelemetry exporter sends it
    otlp = {"resourceSpans": [{"scopeSpans": [{"spans": [_span(1, 1, None, **attrs).to_otlp_json(),
                                                         _span(1, 2, 1, **attrs).to_otlp_json()]}]}]}
    with TestClient(create_app(service=private)) as http:
        r = http.post("/v1/traces", json=otlp, headers={"x-mlflow-experiment-id": exp})
        assert r.status_code == 200, r.text
        # 2. the trace info the mlflow client sends
        r = http.post("/api/3.0/mlflow/traces", json={"trace": {"trace_info": _info(1, exp, note="ana@corp.io")}})
        assert r.status_code == 200, r.text
    # 3. the SDK's embedded batch
    private.traces.log_traces(exp, [_span(2, 1, None, **attrs)], [_info(2, exp, note="ana@corp.io")])
    for trace in (1, 2):
        text = _stored(private, f"tr-{trace:032x}")
        for secret in ("ana@corp.io", "bob@corp.io", "eve@corp.io", "4111", "hunter2", "sk-123", "Ana Lopez"):
            assert secret not in text, (trace, secret)
        assert "[REDACTED]" in text and "A***" in text and '"tokens"' in text
        info = private.traces.get_info(f"tr-{trace:032x}")
        assert info.tags["team"] == "[REDACTED]" and info.metadata["note"] == "[REDACTED]"
        assert info.request_preview == '{"q": "mail [REDACTED]"}' and info.response_preview == "card [REDACTED]"
    # A tag set later is redacted too; one the function drops is not stored.
    private.traces.set_tag(f"tr-{1:032x}", "owner", "write to ana@corp.io")
    private.traces.set_tag(f"tr-{1:032x}", "api_key", "sk-999")
    tags = private.traces.get_info(f"tr-{1:032x}").tags
    assert tags["owner"] == "write to [REDACTED]" and "api_key" not in tags
    # The search index holds only what was stored.
    found, _ = private.traces.search([exp], "span.attributes.email = 'ana@corp.io'")
    assert found == []
    found, _ = private.traces.search([exp], "span.attributes.email = '[REDACTED]'")
    assert len(found) == 2


def test_bad_redaction_settings_are_refused_naming_the_setting(tmp_path):
    for settings, words in (({"trace_redact_patterns": "[unclosed"}, "trace_redact_patterns"),
                            ({"trace_redact_patterns": '["ok", 3]'}, "trace_redact_patterns"),
                            ({"trace_redact_function": "no_colon"}, "package.module:function"),
                            ({"trace_redact_function": "tests.tracing.redact_hook:missing"}, "Cannot load")):
        with pytest.raises(InvalidParameterValue, match=words):
            make_service(f"sqlite:///{tmp_path / 'bad.db'}", tmp_path, **settings)


def test_large_payloads_are_cut_with_a_marker_and_kept_whole_as_artifacts(private, tmp_path):
    exp = private.experiments.create("payloads")
    whole = json.dumps({"document": "lorem ipsum " * 100})
    private.traces.log_spans(exp, [_span(3, 1, None, **{"mlflow.spanInputs": whole, "mlflow.spanOutputs": "short"})])
    _, spans, _ = private.traces.get_trace(f"tr-{3:032x}")
    attributes = {kv["key"]: kv["value"]["string_value"] for kv in json.loads(spans[0].content)["attributes"]}
    cut = attributes["mlflow.spanInputs"]
    assert cut.startswith(whole[:200]) and f"200 of {len(whole)} characters" in cut and "truncated" in cut
    assert attributes["mlflow.spanOutputs"] == "short"
    copies = list(Path(tmp_path / "artifacts").rglob(f"spans/{1:016x}/inputs.json"))
    assert len(copies) == 1 and copies[0].read_text() == whole
    assert f"traces/tr-{3:032x}/artifacts" in copies[0].as_posix()


def test_delete_every_trace_of_a_user_or_a_session(service):
    exp = service.experiments.create("people")
    for trace, user, session in ((1, "ana", "s1"), (2, "ana", "s2"), (3, "bob", "s2"), (4, "bob", "s3")):
        service.traces.log_traces(exp, [_span(trace, 1, None)], [_info(
            trace, exp, **{"mlflow.trace.user": user, "mlflow.trace.session": session})])
    service.assessments.create({"trace_id": f"tr-{1:032x}", "assessment_name": "ok", "feedback": {"value": True}})
    with TestClient(create_app(service=service)) as http:
        r = http.post("/api/2.0/modelyard/traces/delete-of", json={"experiment_id": exp, "user": "ana"})
        assert r.status_code == 200 and r.json() == {"traces_deleted": 2}
        r = http.post("/api/2.0/modelyard/traces/delete-of", json={"experiment_id": exp, "session_id": "s2"})
        assert r.json() == {"traces_deleted": 1}
        for body in ({"experiment_id": exp}, {"experiment_id": exp, "user": "bob", "session_id": "s3"}):
            r = http.post("/api/2.0/modelyard/traces/delete-of", json=body)
            assert r.status_code == 400 and "'user' or 'session_id'" in r.json()["message"]
        r = http.post("/api/2.0/modelyard/traces/delete-of", json={"user": "bob"})
        assert r.status_code == 400 and "experiment_id" in r.json()["message"]
    left, _ = service.traces.search([exp])
    assert [i.trace_id for i in left] == [f"tr-{4:032x}"]
