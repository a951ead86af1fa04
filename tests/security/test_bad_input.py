"""Defect 7 of issue 13: bad input is a 400 naming the field, never a 500 (SQLite and PostgreSQL).

Each case was a 500 before: JSON nested a thousand deep (RecursionError), integers past 2^63
(OverflowError in SQLite, "bigint out of range" in PostgreSQL), NUL characters, a negative LIMIT
and a ``user_id`` too long for its column (PostgreSQL's DataError, with its SQL in the message).
Type errors read as MLflow's (``Invalid value 31 for parameter 'run_id' supplied``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.security.seeded_server import Seeded, seeded_server

BIG = 2**63  # one past the largest signed 64-bit integer
DEEP = 1000
SQL_TEXT = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|LIMIT)\b|\[SQL|psycopg|sqlite3|sqlalchemy", re.IGNORECASE)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    with seeded_server(request.param, tmp_path_factory.mktemp(request.param)) as s:
        yield s


def send(seeded: Seeded, method: str, path: str, payload: Any = None, raw: bytes | None = None) -> httpx.Response:
    """One request on a fresh connection; ``path`` is under /api/2.0/mlflow unless it starts at /api, /ajax-api or /v1."""
    url = seeded.server.url + (path if path.startswith(("/api/", "/ajax-api/", "/v1/")) else "/api/2.0/mlflow" + path)
    headers = {"content-type": "application/json"}
    with httpx.Client(timeout=60, headers=headers) as client:
        if method == "GET":
            return client.get(url, params=payload)
        if raw is not None:
            return client.request(method, url, content=raw)
        return client.request(method, url, json=payload)


def assert_refused(resp: httpx.Response, field: str, seeded: Seeded, code: str = "INVALID_PARAMETER_VALUE") -> str:
    """A 400 with ``code`` whose message names ``field`` and carries no SQL and no server path."""
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["error_code"] == code, body
    message = body["message"]
    assert f"'{field}'" in message, message
    assert not SQL_TEXT.search(message), message
    assert str(seeded.server.root) not in message and "/tmp/" not in message, message  # type: ignore[attr-defined]
    return message


# A well-formed step of a pipeline record, for cases that spoil one field of it.
STEP = {"pipeline_run_uuid": "a" * 32, "task_key": "t", "step": "t", "run_uuid": "b" * 32, "status": "RUNNING"}


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# ---- JSON nested deep, on every JSON route ------------------------------------------------

def json_routes(seeded: Seeded) -> list[tuple[str, str]]:
    """Every operation of /openapi.json that takes a JSON body: (method, path with parameters filled)."""
    doc = httpx.get(seeded.server.url + "/openapi.json").json()
    out = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if "application/json" in op.get("requestBody", {}).get("content", {}):
                filled = re.sub(r"{[^}]+}", lambda m: seeded.model_id if "model" in m.group() else "x", path)
                out.append((method.upper(), filled))
    return out


def test_every_json_route_refuses_a_body_nested_a_thousand_deep(seeded: Seeded) -> None:
    routes = json_routes(seeded)
    # The document lists the JSON routes, MLflow's and ours, the hot path's among them.
    assert len(routes) >= 50
    assert {("POST", "/api/2.0/mlflow/runs/log-batch"), ("POST", "/api/2.0/modelyard/runs/ingest")} <= set(routes)
    body = b'{"deep": ' + nested(DEEP) + b"}"
    for method, path in routes:
        resp = send(seeded, method, path, raw=body)
        assert_refused(resp, "deep", seeded)
        assert "nested more than" in resp.json()["message"]


@pytest.mark.parametrize(
    ("path", "field", "template"),
    [
        ("/api/2.0/modelyard/inference/requests", "requests", b'{"requests": [{"features": %s}]}'),
        ("/api/2.0/modelyard/pipelines/record", "pipeline_run", b'{"pipeline_run": {"x": %s}}'),
        ("/api/2.0/modelyard/pipelines/triggers/fire", "payload", b'{"name": "t", "payload": {"x": %s}}'),
    ],
)
def test_free_form_json_deeper_than_the_limit_is_refused_below_the_recursion_limit(
    seeded: Seeded, path: str, field: str, template: bytes
) -> None:
    """Fields that take any JSON stop at 64 levels, well before the decoder or encoder would recurse too far."""
    assert_refused(send(seeded, "POST", path, raw=template % nested(100)), field, seeded)


def test_the_hot_path_refuses_a_deep_body(seeded: Seeded) -> None:
    body = b'{"run_id": "%s", "key": "m", "value": 1, "timestamp": 1, "junk": %s}' % (
        seeded.run_id.encode(), nested(DEEP))
    assert_refused(send(seeded, "POST", "/runs/log-metric", raw=body), "junk", seeded)


def test_msgpack_nested_a_thousand_deep_is_refused(seeded: Seeded) -> None:
    """The bulk-ingest route's MessagePack body: 5,000 one-item arrays inside an unknown field."""
    body = b"\x82\xa6run_id" + b"\xa1x" + b"\xa4junk" + b"\x91" * 5000 + b"\x01"
    with httpx.Client(timeout=60) as client:
        resp = client.post(seeded.server.url + "/api/2.0/modelyard/runs/ingest", content=body,
                           headers={"content-type": "application/msgpack"})
    assert_refused(resp, "(request body)", seeded)


# ---- integers past 2^63 --------------------------------------------------------------------

@pytest.mark.parametrize(
    ("method", "path", "payload", "field"),
    [
        ("POST", "/runs/update", {"run_id": "{run}", "end_time": BIG}, "end_time"),
        ("POST", "/runs/create", {"experiment_id": "{exp}", "start_time": BIG}, "start_time"),
        ("GET", "/api/2.0/modelyard/inference/requests", {"start_time_ms": str(BIG)}, "start_time_ms"),
        ("GET", "/api/2.0/modelyard/inference/requests", {"end_time_ms": str(-BIG - 1)}, "end_time_ms"),
        ("POST", "/runs/log-metric", {"run_id": "{run}", "key": "m", "value": 1, "timestamp": 1, "step": BIG}, "step"),
        ("POST", "/runs/log-metric", {"run_id": "{run}", "key": "m", "value": 1, "timestamp": BIG}, "timestamp"),
        ("POST", "/runs/log-batch", {"run_id": "{run}", "metrics": [{"key": "m", "value": 1, "timestamp": 1,
                                                                     "step": BIG}]}, "metrics[0].step"),
        ("GET", "/metrics/get-history-bulk-interval",
         {"run_ids": "{run}", "metric_key": "m", "start_step": "0", "end_step": str(BIG)}, "end_step"),
        ("GET", "/model-versions/get", {"name": "{model}", "version": str(BIG)}, "version"),
        ("GET", "/experiments/search", {"max_results": str(BIG)}, "max_results"),
        ("POST", "/logged-models/search", {"experiment_ids": ["{exp}"], "max_results": BIG}, "max_results"),
        ("POST", "/api/2.0/modelyard/pipelines/schedules/backfill", {"name": "s", "start": 0, "end": BIG}, "end"),
        ("POST", "/api/2.0/modelyard/inference/requests",
         {"requests": [{"request_id": "r", "model_name": "m", "model_version": "1", "timestamp_ms": BIG}]},
         "requests[0].timestamp_ms"),
        ("POST", "/api/2.0/modelyard/pipelines/record", {"steps": [{**STEP, "position": 2**31}]}, "steps[0].position"),
    ],
)
def test_integers_past_int64_are_refused_naming_the_field(
    seeded: Seeded, method: str, path: str, payload: dict[str, Any], field: str
) -> None:
    assert_refused(send(seeded, method, path, fill(payload, seeded)), field, seeded)


def fill(payload: Any, seeded: Seeded) -> Any:
    """``payload`` with the placeholders {run}, {exp} and {model} replaced by the seeded entities'."""
    names = {"{run}": seeded.run_id, "{exp}": seeded.experiment_id, "{model}": seeded.model_name}
    if isinstance(payload, dict):
        return {k: fill(v, seeded) for k, v in payload.items()}
    if isinstance(payload, list):
        return [fill(v, seeded) for v in payload]
    return names.get(payload, payload) if isinstance(payload, str) else payload


# ---- NUL characters ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("method", "path", "payload", "field"),
    [
        ("POST", "/experiments/create", {"name": "a\x00b"}, "name"),
        ("POST", "/registered-models/create", {"name": "a\x00b"}, "name"),
        ("POST", "/registered-models/create", {"name": "nul-description", "description": "a\x00b"}, "description"),
        ("PATCH", "/model-versions/update", {"name": "{model}", "version": "1", "description": "\x00"}, "description"),
        ("POST", "/runs/log-parameter", {"run_id": "{run}", "key": "p", "value": "a\x00b"}, "value"),
        ("POST", "/runs/set-tag", {"run_id": "{run}", "key": "t", "value": "a\x00b"}, "value"),
        ("POST", "/runs/update", {"run_id": "{run}", "run_name": "a\x00b"}, "run_name"),
        ("POST", "/runs/log-batch", {"run_id": "{run}", "params": [{"key": "p2", "value": "x\x00"}]},
         "params[0].value"),
        ("POST", "/experiments/set-experiment-tag", {"experiment_id": "{exp}", "key": "k", "value": "\x00"}, "value"),
        ("GET", "/experiments/get-by-name", {"experiment_name": "a\x00b"}, "experiment_name"),
        ("GET", "/registered-models/search", {"filter": "name = 'a\x00'"}, "filter"),
    ],
)
def test_nul_characters_are_refused_naming_the_field(
    seeded: Seeded, method: str, path: str, payload: dict[str, Any], field: str
) -> None:
    message = assert_refused(send(seeded, method, path, fill(payload, seeded)), field, seeded)
    assert "NUL" in message


@pytest.mark.parametrize(
    ("method", "path", "field", "json_answer"),
    [
        ("GET", "/api/2.0/mlflow/logged-models/a%00b", "model_id", True),
        ("DELETE", "/api/2.0/mlflow/logged-models/a%00b/tags/k", "model_id", True),
        ("PATCH", "/api/2.0/mlflow/webhooks/a%00b", "webhook_id", True),
        ("GET", "/models/a%00b", "name", False),  # a page: the same refusal, as an error page
    ],
)
def test_nul_characters_in_the_path_are_refused_naming_the_parameter(
    seeded: Seeded, method: str, path: str, field: str, json_answer: bool
) -> None:
    with httpx.Client(timeout=60) as client:
        resp = client.request(method, seeded.server.url + path, json={} if method == "PATCH" else None)
    if json_answer:
        assert_refused(resp, field, seeded)
    else:
        assert resp.status_code == 400 and f"&#39;{field}&#39;" in resp.text and "NUL" in resp.text


def test_an_escaped_backslash_before_u0000_is_not_a_nul(seeded: Seeded) -> None:
    """``"\\\\u0000"`` in JSON is a backslash and the text ``u0000``: stored as it is."""
    body = b'{"run_id": "%s", "key": "escaped", "value": "a\\\\u0000b"}' % seeded.run_id.encode()
    assert send(seeded, "POST", "/runs/log-parameter", raw=body).status_code == 200
    run = send(seeded, "GET", "/runs/get", {"run_id": seeded.run_id}).json()["run"]
    assert {"key": "escaped", "value": "a\\u0000b"} in run["data"]["params"]


# ---- limits that PostgreSQL enforced with a 500 ---------------------------------------------

@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("POST", "/runs/search", {"experiment_ids": ["{exp}"], "max_results": -BIG}),
        ("POST", "/experiments/search", {"max_results": -BIG}),
        ("GET", "/registered-models/search", {"max_results": str(-BIG)}),
        ("GET", "/model-versions/search", {"max_results": str(-BIG)}),
        ("GET", "/metrics/get-history", {"run_id": "{run}", "metric_key": "m", "max_results": str(-BIG)}),
        ("GET", "/api/2.0/modelyard/inference/requests", {"max_results": str(-BIG)}),
        ("GET", "/api/2.0/modelyard/pipelines/cache/list", {"max_results": str(-BIG)}),
        ("GET", "/api/2.0/modelyard/pipelines/runs/search", {"max_results": str(-BIG)}),
    ],
)
def test_a_negative_max_results_is_refused(seeded: Seeded, method: str, path: str, payload: dict[str, Any]) -> None:
    assert_refused(send(seeded, method, path, fill(payload, seeded)), "max_results", seeded)


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        # What schemathesis found: a cache entry without its keys was a KeyError.
        ("/api/2.0/modelyard/pipelines/record", {"cache_entries": [{"x": [""]}]}, "cache_entries[0].cache_key"),
        ("/api/2.0/modelyard/pipelines/record", {"steps": [{**STEP, "run_uuid": "c" * 40}]}, "steps[0].run_uuid"),
        ("/api/2.0/modelyard/pipelines/record", {"pipeline_run": {"run_uuid": "a" * 32, "status": "S" * 30}},
         "pipeline_run.status"),
        ("/api/2.0/modelyard/pipelines/ticks/update", {"tick_id": 1, "status": "x" * 100}, "status"),
    ],
)
def test_values_longer_than_their_columns_are_refused(
    seeded: Seeded, path: str, payload: dict[str, Any], field: str
) -> None:
    assert_refused(send(seeded, "POST", path, payload), field, seeded)


def test_a_user_id_longer_than_its_column_is_refused(seeded: Seeded) -> None:
    resp = send(seeded, "POST", "/runs/create", {"experiment_id": seeded.experiment_id, "user_id": "u" * 300})
    assert_refused(resp, "user_id", seeded)


# ---- MLflow's wording for type errors --------------------------------------------------------

def test_a_type_error_reads_as_mlflows(seeded: Seeded) -> None:
    resp = send(seeded, "POST", "/runs/log-parameter", {"run_id": 31, "key": "p", "value": "v"})
    message = assert_refused(resp, "run_id", seeded)
    assert message.startswith("Invalid value 31 for parameter 'run_id' supplied:  Hint: Value was of type 'int'.")


def test_a_type_error_in_a_query_and_in_a_nested_field_names_the_field(seeded: Seeded) -> None:
    resp = send(seeded, "GET", "/experiments/search", {"max_results": "many"})
    assert assert_refused(resp, "max_results", seeded).startswith("Invalid value \"many\" for parameter 'max_results'")
    resp = send(seeded, "POST", "/runs/log-batch", {"run_id": seeded.run_id, "tags": [{"key": "k", "value": 5}]})
    assert assert_refused(resp, "tags[0].value", seeded).startswith("Invalid value 5 for parameter 'tags[0].value'")


def test_an_unexpected_error_is_answered_without_its_text() -> None:
    """A 500 names the exception's type only: its text may hold SQL or server paths."""
    from modelyard.server.failures import error_payload

    status, body = error_payload(RuntimeError("(psycopg.DataError) [SQL: SELECT * FROM runs] /srv/data"), "GET", "/x")
    assert status == 500 and body["error_code"] == "INTERNAL_ERROR"
    assert "RuntimeError" in body["message"]
    assert not SQL_TEXT.search(body["message"]) and "/srv/data" not in body["message"]
