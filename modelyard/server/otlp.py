"""OTLP/HTTP trace export bodies (protobuf or JSON, optionally gzip) as :class:`~..entities.traces.Span` lists.

The protobuf body is an ``ExportTraceServiceRequest`` (``opentelemetry-proto``);
the JSON body is its OTLP JSON form, where trace and span ids are hex (not
base64) and field names are lowerCamelCase (snake_case is accepted too). A
span's MLflow trace id is ``tr-`` and its 32-hex-digit OpenTelemetry trace id,
as MLflow derives it; the ``mlflow.traceRequestId`` attribute the client adds to
every span is not stored (it is that same id).
"""

from __future__ import annotations

import functools
import json
import zlib
from typing import Any

from ..entities.traces import Span, decode_any_value
from ..errors import InvalidParameterValue, RequestTooLarge
from . import bad_requests

_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR", "STATUS_CODE_UNSET": "UNSET", "STATUS_CODE_OK": "OK",
           "STATUS_CODE_ERROR": "ERROR"}
_SKIPPED = "mlflow.traceRequestId"
MEDIA_TYPES = ("application/x-protobuf", "application/json")
_INT64_MAX = 2**63 - 1
_SCALARS = frozenset(("string_value", "int_value", "bool_value", "double_value"))


def inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """``body`` decompressed per ``Content-Encoding`` (gzip, deflate or none), at most ``limit`` bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise InvalidParameterValue(f"Unsupported Content-Encoding '{encoding}': send gzip, deflate or none.")
    inflater = zlib.decompressobj(wbits=47 if encoding == "gzip" else 15)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidParameterValue(f"Request body is not valid {encoding} data: {exc}.") from None
    if len(out) > limit:
        raise RequestTooLarge(
            f"The decompressed OTLP body exceeds the server's limit of {limit} bytes: send fewer spans per"
            " request, or start the server with a higher MODELYARD_MAX_REQUEST_BYTES.")
    return out


def decode(body: bytes, media_type: str) -> list[Span]:
    """The spans of an export request; a body that is not one is a 400 naming what is wrong."""
    if media_type == "application/json":
        return _from_json(body)
    return _from_protobuf(body)


def _where(at: str | tuple[int, int, int]) -> str:
    """Where a span is in the body: given as is (JSON), or as its three indexes (protobuf)."""
    return at if isinstance(at, str) else "resource_spans[{}].scope_spans[{}].spans[{}]".format(*at)


def _span(trace_hex: str, span_hex: str, parent_hex: str, name: str, start: int, end: int,
          attributes: dict[str, Any], status: str, message: str, events: list[dict[str, Any]] | None,
          at: str | tuple[int, int, int]) -> Span:
    if len(trace_hex) != 32 or len(span_hex) != 16:
        raise InvalidParameterValue(
            f"Invalid OTLP span at {_where(at)}: trace_id must be 16 bytes and span_id 8 bytes "
            f"(got {len(trace_hex) // 2} and {len(span_hex) // 2}).")
    if parent_hex and len(parent_hex) != 16:
        raise InvalidParameterValue(f"Invalid OTLP span at {_where(at)}: parent_span_id must be 8 bytes.")
    if not (0 <= start <= _INT64_MAX and 0 <= end <= _INT64_MAX):
        raise InvalidParameterValue(
            f"Invalid OTLP span at {_where(at)}: start and end times are nanoseconds since the epoch, "
            "at most 9223372036854775807.")
    attributes.pop(_SKIPPED, None)
    span_type = attributes.get("mlflow.spanType")
    name = name.replace("\x00", "")
    if isinstance(span_type, str):
        span_type = span_type.replace("\x00", "")
    # Positional: a dataclass called with keywords builds a dict of them first (a fifth of a span's decoding).
    return Span("tr-" + trace_hex, span_hex, parent_hex or None, name,
                span_type[:100] if isinstance(span_type, str) else None, status, message or None,
                start, end or None, attributes, events or None, trace_hex)


@functools.cache
def _protobuf() -> tuple[Any, type[Exception]]:
    """OpenTelemetry's ``ExportTraceServiceRequest`` and protobuf's ``DecodeError``, imported on first use (not
    with the server) and once: an import statement run per request costs more than parsing a span."""
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    return ExportTraceServiceRequest, DecodeError


def _from_protobuf(body: bytes) -> list[Span]:
    request_class, decode_error = _protobuf()
    request = request_class()
    try:
        request.ParseFromString(body)
    except decode_error:
        raise InvalidParameterValue(
            "Invalid OpenTelemetry protobuf body: send an ExportTraceServiceRequest "
            "(Content-Type: application/x-protobuf), or OTLP JSON with Content-Type: application/json.") from None
    out = []
    # Repeated fields are read as slices (lists): iterating one ends in an IndexError, raised and formatted in C.
    for r, resource_spans in enumerate(request.resource_spans[:]):
        for s, scope_spans in enumerate(resource_spans.scope_spans[:]):
            for i, sp in enumerate(scope_spans.spans[:]):
                attributes = {}
                for a in sp.attributes[:]:
                    value = a.value
                    # Most values are strings, not empty: read at once (an unset one reads ""). Other
                    # scalars (the client's ints) in one more step.
                    text = value.string_value
                    if text:
                        attributes[a.key] = text
                        continue
                    kind = value.WhichOneof("value")
                    attributes[a.key] = getattr(value, kind) if kind in _SCALARS else _pb_value(value)
                events = [
                    {"name": e.name, "time_unix_nano": e.time_unix_nano,
                     "attributes": {a.key: _pb_value(a.value) for a in e.attributes[:]}}
                    for e in sp.events[:]
                ] if sp.events else None
                status = sp.status
                trace_hex, span_hex, parent_hex = sp.trace_id.hex(), sp.span_id.hex(), sp.parent_span_id.hex()
                name, start, end = sp.name, sp.start_time_unix_nano, sp.end_time_unix_nano
                if (len(trace_hex) != 32 or len(span_hex) != 16 or (parent_hex and len(parent_hex) != 16)
                        or start > _INT64_MAX or end > _INT64_MAX or "\x00" in name
                        or not isinstance(attributes.get("mlflow.spanType", ""), str)):
                    # Not the common span: checked (a bad one refused) and cleaned as a JSON one is.
                    out.append(_span(trace_hex, span_hex, parent_hex, name, start, end, attributes,
                                     _STATUS.get(status.code, "UNSET"), status.message, events, (r, s, i)))
                    continue
                # The common span, as _span builds it, without the call.
                attributes.pop(_SKIPPED, None)
                span_type = attributes.get("mlflow.spanType")
                message = status.message
                out.append(Span("tr-" + trace_hex, span_hex, parent_hex or None, name,
                                span_type.replace("\x00", "")[:100] if span_type is not None else None,
                                _STATUS.get(status.code, "UNSET"), message or None, start, end or None, attributes,
                                events, trace_hex))
    return out


def _pb_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_pb_value(v) for v in value.array_value.values[:]]
    if kind == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in value.kvlist_value.values[:]}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def _get(obj: dict[str, Any], camel: str, snake: str, default: Any = None) -> Any:
    found = obj.get(camel)
    return obj.get(snake, default) if found is None else found


def _hex_id(value: Any, where: str) -> str:
    if not value:
        return ""
    if not isinstance(value, str):
        raise InvalidParameterValue(f"Invalid OTLP JSON at {where}: ids are hex strings.")
    try:
        return bytes.fromhex(value).hex()
    except ValueError:
        raise InvalidParameterValue(f"Invalid OTLP JSON at {where}: {value!r} is not a hex id.") from None


def _int(value: Any, where: str) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise InvalidParameterValue(f"Invalid OTLP JSON at {where}: {value!r} is not a number of nanoseconds.") from None


def _attributes(items: Any, where: str) -> dict[str, Any]:
    if not isinstance(items, list):
        raise InvalidParameterValue(f"Invalid OTLP JSON at {where}: attributes are a list of {{key, value}}.")
    out = {}
    for kv in items:
        if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
            raise InvalidParameterValue(f"Invalid OTLP JSON at {where}: each attribute needs a string 'key'.")
        out[kv["key"]] = decode_any_value(kv.get("value") or {})
    return out


def _from_json(body: bytes) -> list[Span]:
    deep = bad_requests.too_deep(body)  # the same refusal, naming the field, as every JSON route
    if deep:
        raise InvalidParameterValue(deep)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidParameterValue(f"Malformed OTLP JSON body: {exc}.") from None
    if not isinstance(data, dict):
        raise InvalidParameterValue("Invalid OTLP JSON body: expected an object with 'resourceSpans'.")
    try:
        return _json_spans(data)
    except (AttributeError, TypeError, ValueError, RecursionError):
        raise InvalidParameterValue(
            "Invalid OTLP JSON body: expected {'resourceSpans': [{'scopeSpans': [{'spans': [...]}]}]} with "
            "spans as OTLP writes them (ids in hex, times in nanoseconds, attributes as {key, value}).") from None


def _json_spans(data: dict[str, Any]) -> list[Span]:
    out = []
    for r, rs in enumerate(_get(data, "resourceSpans", "resource_spans", []) or []):
        for s, ss in enumerate(_get(rs, "scopeSpans", "scope_spans", []) or []):
            for i, sp in enumerate(ss.get("spans") or []):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{i}]"
                if not isinstance(sp, dict):
                    raise InvalidParameterValue(f"Invalid OTLP JSON at {where}: a span is an object.")
                status = sp.get("status") or {}
                if not isinstance(status, dict):
                    status = {}
                events = [
                    {"name": e.get("name", ""), "time_unix_nano": _int(_get(e, "timeUnixNano", "time_unix_nano"), where),
                     "attributes": _attributes(e.get("attributes") or [], where)}
                    for e in sp.get("events") or [] if isinstance(e, dict)
                ]
                out.append(_span(
                    _hex_id(_get(sp, "traceId", "trace_id"), where + ".traceId"),
                    _hex_id(_get(sp, "spanId", "span_id"), where + ".spanId"),
                    _hex_id(_get(sp, "parentSpanId", "parent_span_id"), where + ".parentSpanId"),
                    str(sp.get("name") or ""),
                    _int(_get(sp, "startTimeUnixNano", "start_time_unix_nano"), where),
                    _int(_get(sp, "endTimeUnixNano", "end_time_unix_nano"), where),
                    _attributes(sp.get("attributes") or [], where),
                    _STATUS.get(status.get("code", 0), "UNSET"), str(status.get("message") or ""), events, where))
    return out
