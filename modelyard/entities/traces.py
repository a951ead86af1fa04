"""LLM traces as plain data, shaped like MLflow 3's tracing entities.

A :class:`Span` is one OpenTelemetry span as stored: ids in hex, status ``OK``,
``ERROR`` or ``UNSET``, attributes decoded to plain JSON values. ``to_otel_dict``
gives the OpenTelemetry protobuf JSON that MLflow's ``Trace`` proto carries
(ids in base64, attributes as ``AnyValue``). A :class:`TraceInfo` is MLflow's
``TraceInfoV3``; ``to_dict`` gives its protobuf JSON (``request_time`` as an
RFC 3339 timestamp, ``execution_duration`` as ``"1.500s"``).
"""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec

from ..errors import InvalidParameterValue

__all__ = [
    "TRACE_STATES",
    "Span",
    "StoredSpan",
    "TraceInfo",
    "any_value",
    "decode_any_value",
    "duration_ms",
    "format_duration",
    "format_timestamp",
    "timestamp_ms",
]

TRACE_STATES = ("OK", "ERROR", "IN_PROGRESS")
_STATUS_CODES = {"OK": "STATUS_CODE_OK", "ERROR": "STATUS_CODE_ERROR", "UNSET": "STATUS_CODE_UNSET"}


def _b64_once(hex_id: str) -> str:
    return binascii.b2a_base64(bytes.fromhex(hex_id), newline=False).decode("ascii")


# A batch's spans name their trace and their parent over and over: those are cached. A span's own id is
# new (a cache miss costs more than the encoding).
_b64 = functools.lru_cache(maxsize=4096)(_b64_once)


def any_value(value: Any) -> dict[str, Any]:
    """``value`` as an OpenTelemetry ``AnyValue`` in protobuf JSON."""
    if isinstance(value, str):
        return {"string_value": value}
    if isinstance(value, bool):
        return {"bool_value": value}
    if isinstance(value, int):
        return {"int_value": str(value)}
    if isinstance(value, float):
        return {"double_value": value}
    if isinstance(value, list):
        return {"array_value": {"values": [any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlist_value": {"values": [{"key": k, "value": any_value(v)} for k, v in value.items()]}}
    return {}


def decode_any_value(value: dict[str, Any]) -> Any:
    """An ``AnyValue`` in protobuf JSON (either field spelling) as a plain value."""
    for key, item in value.items():
        kind = key.replace("Value", "_value") if key.endswith("Value") else key
        if kind == "string_value":
            return item
        if kind == "int_value":
            return int(item)
        if kind in ("bool_value", "double_value"):
            return item
        if kind == "array_value":
            return [decode_any_value(v) for v in (item or {}).get("values", [])]
        if kind == "kvlist_value":
            return {kv.get("key", ""): decode_any_value(kv.get("value") or {}) for kv in (item or {}).get("values", [])}
        if kind == "bytes_value":
            return item
    return None


@dataclass(slots=True)
class Span:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    type: str | None
    status: str
    status_message: str | None
    start_time_ns: int
    end_time_ns: int | None
    attributes: dict[str, Any]
    events: list[dict[str, Any]] | None = None
    otel_trace_id: str = ""  # 32 hex digits

    def to_otlp_json(self) -> dict[str, Any]:
        """The span in OTLP JSON, as an exporter sends it to ``/v1/traces`` (ids in hex)."""
        out: dict[str, Any] = {
            "traceId": self.otel_trace_id or self.trace_id.removeprefix("tr-"), "spanId": self.span_id,
            "name": self.name, "startTimeUnixNano": str(self.start_time_ns),
            "attributes": [{"key": k, "value": any_value(v)} for k, v in self.attributes.items()],
            "status": {"code": {"OK": 1, "ERROR": 2}.get(self.status, 0), "message": self.status_message or ""},
        }
        if self.parent_span_id:
            out["parentSpanId"] = self.parent_span_id
        if self.end_time_ns is not None:
            out["endTimeUnixNano"] = str(self.end_time_ns)
        if self.events:
            out["events"] = [
                {"name": e.get("name", ""), "timeUnixNano": str(e.get("time_unix_nano", 0)),
                 "attributes": [{"key": k, "value": any_value(v)} for k, v in (e.get("attributes") or {}).items()]}
                for e in self.events
            ]
        return out

    def to_otel_dict(self) -> dict[str, Any]:
        """The span as OpenTelemetry protobuf JSON (ids in base64, attributes as ``AnyValue``)."""
        found: dict[str, Any] = msgspec.to_builtins(self._otel())
        return found

    def otel_json(self) -> str:
        """:meth:`to_otel_dict` as JSON text, as it is stored."""
        return _encode_otel(self._otel()).decode()

    def _otel(self) -> _OtelSpan:
        return _OtelSpan(
            _b64(self.otel_trace_id or self.trace_id.removeprefix("tr-")), _b64_once(self.span_id), self.name, str(self.start_time_ns),
            # Most values are strings: their AnyValue without a call.
            [_OtelAttribute(k, {"string_value": v} if type(v) is str else any_value(v))
             for k, v in self.attributes.items()],
            _OtelStatus(_STATUS_CODES.get(self.status, "STATUS_CODE_UNSET"), self.status_message)
            if self.status_message else _STATUS_ALONE.get(self.status, _STATUS_ALONE["UNSET"]),
            _b64(self.parent_span_id) if self.parent_span_id else None,
            None if self.end_time_ns is None else str(self.end_time_ns),
            [{"name": e.get("name", ""), "time_unix_nano": str(e.get("time_unix_nano", 0)),
              "attributes": [{"key": k, "value": any_value(v)} for k, v in (e.get("attributes") or {}).items()]}
             for e in self.events] if self.events else None)


# A span's OpenTelemetry protobuf JSON as msgspec structs: built and encoded in C, where dicts of the same
# fields cost twice the instructions. Fields in the order they are written; None ones left out. Made and
# dropped at once, never in a cycle: not tracked by the garbage collector (gc=False, cheaper to make and free).
class _OtelAttribute(msgspec.Struct, gc=False):
    key: str
    value: dict[str, Any]


class _OtelStatus(msgspec.Struct, omit_defaults=True, gc=False):
    code: str
    message: str | None = None


class _OtelSpan(msgspec.Struct, omit_defaults=True, gc=False):
    trace_id: str
    span_id: str
    name: str
    start_time_unix_nano: str
    attributes: list[_OtelAttribute]
    status: _OtelStatus
    parent_span_id: str | None = None
    end_time_unix_nano: str | None = None
    events: list[dict[str, Any]] | None = None


_encode_otel = msgspec.json.Encoder().encode
# The status of a span without a message (most), made once: only read (encoded), never changed.
_STATUS_ALONE = {status: _OtelStatus(code) for status, code in _STATUS_CODES.items()}


class StoredSpan(NamedTuple):
    """A span as read back: where it sorts, and its OpenTelemetry protobuf JSON (``Span.to_otel_dict``)."""

    span_id: str
    parent_span_id: str | None
    start_time_ns: int
    content: str


@dataclass(slots=True)
class TraceInfo:
    trace_id: str
    experiment_id: str
    request_time_ms: int
    execution_time_ms: int | None
    state: str
    request_preview: str | None = None
    response_preview: str | None = None
    client_request_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    assessments: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "trace_id": self.trace_id,
            "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": self.experiment_id}},
            "request_time": format_timestamp(self.request_time_ms),
            "state": self.state,
            "trace_metadata": self.metadata,
            "tags": self.tags,
        }
        if self.execution_time_ms is not None:
            out["execution_duration"] = format_duration(self.execution_time_ms)
        if self.request_preview is not None:
            out["request_preview"] = self.request_preview
        if self.response_preview is not None:
            out["response_preview"] = self.response_preview
        if self.client_request_id:
            out["client_request_id"] = self.client_request_id
        if self.assessments:
            out["assessments"] = self.assessments
        return out


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_FRACTION = re.compile(r"\.(\d+)")


def format_timestamp(ms: int) -> str:
    """Milliseconds since the epoch as a protobuf JSON ``Timestamp``: ``2026-01-02T03:04:05.678Z``."""
    when = _EPOCH + dt.timedelta(milliseconds=ms)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def format_duration(ms: int) -> str:
    """Milliseconds as a protobuf JSON ``Duration``: ``1.500s``."""
    return f"{ms // 1000}.{ms % 1000:03d}s" if ms >= 0 else f"-{format_duration(-ms)}"


def _parse_iso(text: str) -> dt.datetime | None:
    """RFC 3339 text as a datetime, None if it is not: the clients' form ('2026-01-02T03:04:05.678Z') at once,
    others (a lowercase z, surrounding spaces, more than six digits of a second) made ISO first."""
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        pass
    text = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], text.strip(), count=1)
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


def timestamp_ms(value: Any, field_name: str) -> int:
    """A protobuf JSON ``Timestamp`` (RFC 3339 text or ``{"seconds", "nanos"}``) as milliseconds."""
    if isinstance(value, dict):
        try:
            return int(value.get("seconds", 0)) * 1000 + int(value.get("nanos", 0)) // 1_000_000
        except (TypeError, ValueError):
            pass
    elif isinstance(value, str):
        when = _parse_iso(value)
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            return (when - _EPOCH) // dt.timedelta(milliseconds=1)
    elif isinstance(value, int) and not isinstance(value, bool):
        return value
    raise InvalidParameterValue(
        f"Invalid value {value!r} for parameter '{field_name}' supplied: use an RFC 3339 timestamp "
        "such as '2026-01-02T03:04:05.678Z'.")


def duration_ms(value: Any, field_name: str) -> int:
    """A protobuf JSON ``Duration`` (``"1.5s"`` or ``{"seconds", "nanos"}``) as milliseconds."""
    if isinstance(value, dict):
        try:
            return int(value.get("seconds", 0)) * 1000 + int(value.get("nanos", 0)) // 1_000_000
        except (TypeError, ValueError):
            pass
    elif isinstance(value, str) and value.endswith("s"):
        try:
            return round(float(value[:-1]) * 1000)
        except ValueError:
            pass
    raise InvalidParameterValue(
        f"Invalid value {value!r} for parameter '{field_name}' supplied: use a duration such as '1.500s'.")


def trace_info_from_dict(d: dict[str, Any]) -> TraceInfo:
    """A trace info as the REST API answers it (MLflow 3's ``TraceInfo`` JSON)."""
    exp = ((d.get("trace_location") or {}).get("mlflow_experiment") or {}).get("experiment_id", "")
    duration = d.get("execution_duration")
    return TraceInfo(
        d["trace_id"], str(exp), timestamp_ms(d.get("request_time", 0), "request_time"),
        None if duration is None else duration_ms(duration, "execution_duration"), d.get("state", "IN_PROGRESS"),
        d.get("request_preview"), d.get("response_preview"), d.get("client_request_id"),
        dict(d.get("tags") or {}), dict(d.get("trace_metadata") or {}), list(d.get("assessments") or []),
    )
