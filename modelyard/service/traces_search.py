"""``search_traces`` filters and ``order_by`` as MLflow 3.17 writes them, into plain comparisons.

The syntax is :mod:`.grammar`'s; the keys are MLflow's::

    trace.status = 'OK' AND trace.timestamp_ms > 1700000000000
    tags.team = 'search' AND metadata.`mlflow.sourceRun` = 'a1b2...'
    span.name = 'retrieve' AND span.type = 'RETRIEVER' AND span.status = 'ERROR'
    span.attributes.model = 'gpt-4o' AND feedback.correct = 'true' AND trace.text LIKE '%refund%'
    span.content LIKE '%gpt-4%'

Prefixes: ``trace``/``attribute``/``attributes`` (trace fields), ``tag``/``tags``,
``metadata``/``request_metadata``, ``span``, ``feedback``, ``expectation``. Trace
fields: ``request_id``, ``timestamp_ms`` (``timestamp``), ``execution_time_ms``
(``execution_time``), ``end_time_ms`` (``end_time``), ``status``, ``client_request_id``,
``name`` (tag ``mlflow.traceName``), ``run_id`` (metadata ``mlflow.sourceRun`` or a
linked run), ``prompt`` (``name/version`` of a linked prompt) and ``text`` (``LIKE``
over every span's attributes).
"""

from __future__ import annotations

import base64
import binascii
import json

from ..entities.query import ATTRIBUTE, IN, NOT_IN, TAG, Comparison
from ..errors import InvalidParameterValue
from . import grammar

METADATA, SPAN, SPAN_ATTRIBUTE, FEEDBACK, EXPECTATION = "metadata", "span", "span_attribute", "feedback", "expectation"

PREFIXES = grammar.Prefixes(
    {"trace": ATTRIBUTE, "attribute": ATTRIBUTE, "attributes": ATTRIBUTE, "tag": TAG, "tags": TAG,
     "metadata": METADATA, "request_metadata": METADATA, "span": SPAN, "feedback": FEEDBACK,
     "expectation": EXPECTATION},
    "['trace', 'attribute', 'tag', 'metadata', 'span', 'feedback', 'expectation']",
)
# Trace fields: filter key -> column of ``traces``.
_COLUMNS = {
    "request_id": "trace_id", "timestamp_ms": "request_time_ms", "timestamp": "request_time_ms",
    "execution_time_ms": "execution_time_ms", "execution_time": "execution_time_ms",
    "end_time_ms": "end_time_ms", "end_time": "end_time_ms", "status": "state",
    "client_request_id": "client_request_id", "name": "name", "run_id": "run_id", "prompt": "prompt", "text": "text",
}
_NUMERIC = ("request_time_ms", "execution_time_ms", "end_time_ms")
_LISTABLE = ("name", "status", "request_id", "run_id", "client_request_id")
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_KEY_VALUE_OPS = ("=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL")
_ASSESSMENT_OPS = ("=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL")
_SPAN_FIELDS = ("name", "type", "status")
_ORDER_COLUMNS = {
    "timestamp_ms": "request_time_ms", "timestamp": "request_time_ms", "execution_time_ms": "execution_time_ms",
    "execution_time": "execution_time_ms", "status": "state", "request_id": "trace_id", "name": "name",
    "run_id": "run_id", "experiment_id": "experiment_id",
}


def parse_filter(text: str | None) -> list[Comparison]:
    """The comparisons of a ``search_traces`` filter (``[]`` for none)."""
    if not text or not text.strip():
        return []
    out = []
    for kind, key, op, raw in grammar.split_clauses(text, PREFIXES):
        if op == "RLIKE":
            raise InvalidParameterValue("RLIKE is not supported in trace filters: use LIKE or ILIKE with % wildcards.")
        if kind == ATTRIBUTE:
            out.append(_attribute(key, op, raw))
        elif kind in (TAG, METADATA):
            if op not in _KEY_VALUE_OPS:
                raise grammar.bad_comparator(op, _KEY_VALUE_OPS, f"{kind} '{key}'")
            out.append(Comparison(kind, key, op, None if raw is None else grammar.string_value(TAG, raw)))
        elif kind == SPAN:
            out.append(_span(key, op, raw))
        else:
            if op not in _ASSESSMENT_OPS:
                raise grammar.bad_comparator(op, _ASSESSMENT_OPS, f"{kind} '{key}'")
            value = None if raw is None else (raw.text if raw.kind == "number" else grammar.string_value(TAG, raw))
            out.append(Comparison(kind, key, op, value))
    return out


def _attribute(key: str, op: str, raw: grammar.Raw | None) -> Comparison:
    column = _COLUMNS.get(key)
    if column is None:
        raise InvalidParameterValue(
            f"Invalid attribute key '{key}' in trace filter. Valid keys: {sorted(_COLUMNS)}; "
            "use tags.<key>, metadata.<key> or span.<name|type|status|attributes.key> for others.")
    if raw is None:
        raise grammar.bad_comparator(op, _STRING_OPS, f"trace attribute '{key}'")
    if column in _NUMERIC:
        if op not in grammar.NUMERIC_OPS:
            raise grammar.bad_comparator(op, grammar.NUMERIC_OPS, f"numeric trace attribute '{key}'")
        number = float(grammar.number(raw, f"Expected a number for '{key}'"))
        if not -(2**63) <= number <= 2**63 - 1:
            raise InvalidParameterValue(f"The value {raw.text} for '{key}' is out of range: use milliseconds.")
        return Comparison(ATTRIBUTE, column, op, int(number))
    if column == "text" and op not in ("LIKE", "ILIKE"):
        raise grammar.bad_comparator(op, ("LIKE", "ILIKE"), "trace.text")
    if op not in _STRING_OPS:
        raise grammar.bad_comparator(op, _STRING_OPS, f"trace attribute '{key}'")
    if op in (IN, NOT_IN):
        if key not in _LISTABLE:
            raise InvalidParameterValue(f"Only {list(_LISTABLE)} trace attributes support IN and NOT IN.")
        return Comparison(ATTRIBUTE, column, op, grammar.string_list(raw))
    value = grammar.string_value(ATTRIBUTE, raw)
    if column == "text":
        value = value if "%" in value else f"%{value}%"
    return Comparison(ATTRIBUTE, column, op, value)


def _span(key: str, op: str, raw: grammar.Raw | None) -> Comparison:
    if raw is None:
        raise grammar.bad_comparator(op, _STRING_OPS, f"span.{key}")
    if key.startswith("attributes."):
        name = key[len("attributes."):]
        kind = SPAN_ATTRIBUTE
    elif key in _SPAN_FIELDS:
        name, kind = key, SPAN
    elif key == "content":  # the span's whole JSON (attributes, inputs, outputs, events), as MLflow
        if op not in ("LIKE", "ILIKE"):
            raise grammar.bad_comparator(op, ("LIKE", "ILIKE"), "span.content")
        return Comparison(SPAN, "content", op, grammar.string_value(ATTRIBUTE, raw))
    else:
        raise InvalidParameterValue(
            f"Invalid span attribute '{key}'. Supported attributes: name, status, type, content, "
            "attributes.<attribute_name>.")
    if op not in _STRING_OPS:
        raise grammar.bad_comparator(op, _STRING_OPS, f"span.{key}")
    if op in (IN, NOT_IN):
        return Comparison(kind, name, op, grammar.string_list(raw))
    value = raw.text if raw.kind == "number" and kind == SPAN_ATTRIBUTE else grammar.string_value(ATTRIBUTE, raw)
    return Comparison(kind, name, op, value)


def parse_order_by(order_by: list[str] | None) -> list[tuple[str, bool]]:
    """(column, ascending) pairs; ``[]`` for the default (newest first), which pages by keyset."""
    out = []
    for clause in order_by or []:
        kind, key, ascending = grammar.order_clause(clause, PREFIXES)
        column = _ORDER_COLUMNS.get(key) if kind == ATTRIBUTE else None
        if column is None:
            raise InvalidParameterValue(
                f"Invalid order_by clause '{clause}': traces can be ordered by {sorted(_ORDER_COLUMNS)}.")
        out.append((column, ascending))
    if out == [("request_time_ms", False)]:
        return []
    return out


def encode_token(offset: int | None = None, after: tuple[int, int] | None = None) -> str:
    body = {"offset": offset} if after is None else {"after": list(after)}
    return base64.b64encode(json.dumps(body).encode()).decode("ascii")


def decode_token(token: str | None) -> tuple[int, tuple[int, int] | None]:
    """(offset, keyset position) of a page token; (0, None) for the first page."""
    if not token:
        return 0, None
    hint = "Pass the next_page_token of the previous response unchanged, or omit it for the first page."
    try:
        body = json.loads(base64.b64decode(token, validate=True))
    except (binascii.Error, ValueError, TypeError):
        raise InvalidParameterValue(f"Invalid page_token {token!r}. {hint}") from None
    if isinstance(body, dict):
        after, offset = body.get("after"), body.get("offset")
        if isinstance(after, list) and len(after) == 2 and all(type(v) is int for v in after):
            return 0, (after[0], after[1])
        if type(offset) is int and offset >= 0:
            return offset, None
    raise InvalidParameterValue(f"Invalid page_token {token!r}. {hint}")
