"""The field a bad body is refused for is named the way MLflow names it (``metrics[3].key``)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from modelyard.api import schemas as s
from modelyard.api.schemas_pipelines import Record
from modelyard.server import bad_requests as bad


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"tags": [{"key": "a", "value": "x"}, {"key": "b", "value": "a\\u0000b"}]}', "tags[1].value"),
        (b'{"a": {"b\\"c": [1, 2, "\\u0000"]}}', 'a.b"c[2]'),
        (b'{"p": {"k\\u0000": 1}}', "p.k\\u0000"),
        (b'["\\u0000"]', "[0]"),
    ],
)
def test_a_nul_is_found_and_its_field_named(body: bytes, field: str) -> None:
    message = bad.nul_character(body)
    assert message is not None and f"'{field}'" in message


def test_an_escaped_backslash_before_u0000_is_text() -> None:
    assert bad.nul_character(b'{"a": "x\\\\u0000"}') is None
    assert bad.hidden_in(b'{"a": "x\\\\u0000"}', s.SetTag) is None


def test_depth_is_named_by_the_top_level_field_and_counted_past_strings() -> None:
    assert bad.too_deep(b'{"a": "' + b"[" * 500 + b'"}') is None  # brackets inside a string
    message = bad.too_deep(b'{"ok": 1, "junk": {"x": ' + b"[" * 100 + b"]" * 100 + b"}}")
    assert message is not None and "'junk'" in message
    assert bad.too_deep(b"[" * (bad.MAX_JSON_DEPTH + 1) + b"]" * (bad.MAX_JSON_DEPTH + 1)) is not None
    assert bad.too_deep(b"[" * bad.MAX_JSON_DEPTH + b"]" * bad.MAX_JSON_DEPTH) is None


def test_only_schemas_with_free_form_fields_are_checked_for_depth() -> None:
    assert not bad.takes_free_form(s.LogBatch)
    assert bad.takes_free_form(Record)  # a step's inputs and outputs are any JSON
    deep = b'{"steps": [], "pipeline_run": {"output": ' + b"[" * 80 + b"]" * 80 + b"}}"
    assert "'pipeline_run'" in (bad.hidden_in(deep, Record) or "")


def failure(schema: type, body: bytes) -> str:
    try:
        msgspec.json.decode(body, type=schema, strict=False)
    except msgspec.ValidationError as exc:
        return bad.decode_failure(exc, lambda: msgspec.json.decode(body))
    raise AssertionError("decoded")


@pytest.mark.parametrize(
    ("schema", "body", "expected"),
    [
        (s.LogParam, b'{"run_id": 31}', ("Invalid value 31 for parameter 'run_id' supplied:  Hint: Value was of"
                                         " type 'int'. See the API docs for more information about request"
                                         " parameters. Expected `str | null`, got `int`.")),
        (s.LogBatch, b'{"metrics": [{"key": "m"}, {"step": "x"}]}', ("Invalid value \"x\" for parameter"
                                                                      " 'metrics[1].step' supplied:  Hint")),
        (s.UpdateRun, b'{"end_time": 9223372036854775808}', ("Invalid value 9223372036854775808 for parameter"
                                                             " 'end_time' supplied: Expected `int` <=")),
        (s.MetricSeries, b'{"key": "k", "values": []}', "Missing value for required parameter 'timestamps'."),
        (s.LogBatch, b"[1, 2]", "Invalid value [1,2] for parameter '(request body)' supplied:  Hint"),
    ],
)
def test_decode_failures_read_as_mlflows(schema: type, body: bytes, expected: str) -> None:
    assert failure(schema, body).startswith(expected)


@pytest.mark.parametrize(("data", "path", "value"), [
    ({"a": [{"b": 1}]}, "a[0].b", 1), ([[0, 7]], "[0][1]", 7), ({"a": 1}, "", {"a": 1})])
def test_lookup_follows_a_field_path(data: Any, path: str, value: Any) -> None:
    assert bad.lookup(data, path) == value


def test_lookup_refuses_a_path_it_cannot_follow() -> None:
    with pytest.raises(LookupError):
        bad.lookup({"a": {"b": 1}}, "a[...]")
