"""/api/2.0/modelyard/runs/ingest: many points of one run, columnar, in one transaction.

The body is an :class:`~modelyard.api.schemas.IngestBatch` as JSON, or as
MessagePack when sent with ``Content-Type: application/msgpack`` (what our SDK
sends: floats travel as 8 bytes, no text to parse, NaN and infinities as they
are). Either way the series go to the service as
:class:`~modelyard.entities.metric_columns.MetricColumns`, never one object per point.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ...api import schemas as s
from ...entities import Param, RunTag
from ...entities.metric_columns import MetricColumns
from ...errors import InvalidParameterValue, MalformedRequest
from ...service import TrackingService
from ...service.limits import MAX_BULK_METRICS, check_name, invalid_value, missing_value
from ..auth import require
from ..bad_requests import decode_failure
from ..protocol import JSONResponse, accepts, decode_body, read_body

MSGPACK = "application/msgpack"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_msgpack_decoder = msgspec.msgpack.Decoder(s.IngestBatch)


def ingest(svc: TrackingService, req: s.IngestBatch) -> dict[str, Any]:
    """Our bulk path: columnar series, up to 100,000 points, one transaction.

    Each series is checked first, so an error names the field as it was sent
    (``metrics[1].timestamps[7]``).
    """
    run_id = req.id
    if not run_id:
        raise InvalidParameterValue(missing_value("run_id"))
    series = []
    for i, one in enumerate(req.metrics):
        check_series(i, one)
        series.append((one.key, one.values, one.timestamps, one.steps))
    metrics = MetricColumns(series)
    params = [Param(p.key or "", p.value if p.value is not None else "") for p in req.params]
    tags = [RunTag(t.key or "", t.value if t.value is not None else "") for t in req.tags]
    svc.runs.log_batch(run_id, metrics, params, tags, max_metrics=MAX_BULK_METRICS)
    return {"points": len(metrics), "committed_at": int(time.time() * 1000)}


def check_series(i: int, series: s.MetricSeries) -> None:
    """One key's columns: equal lengths, a valid key, timestamps ≥ 0 and steps within int64."""
    n = len(series.values)
    if len(series.timestamps) != n or len(series.steps) != n:
        raise InvalidParameterValue(
            f"metrics[{i}]: 'values', 'timestamps' and 'steps' must have the same length "
            f"(got {n}, {len(series.timestamps)}, {len(series.steps)})."
        )
    check_name(series.key, f"metrics[{i}].key", "Metric")
    if not n:
        return
    for field, column, low, why in (
        ("timestamps", series.timestamps, 0, "a nonnegative long (64-bit integer)"),
        ("steps", series.steps, _INT64_MIN, "a valid long (64-bit integer)"),
    ):
        if min(column) < low or max(column) > _INT64_MAX:
            j = next(j for j, x in enumerate(column) if not low <= x <= _INT64_MAX)
            raise InvalidParameterValue(
                invalid_value(f"metrics[{i}].{field}[{j}]", column[j], f"metric '{series.key}': must be {why}.")
            )


def decode(body: bytes, content_type: str, limit: int) -> s.IngestBatch:
    """The batch from a JSON or (``application/msgpack``) MessagePack body."""
    if content_type.split(";", 1)[0].strip().lower() != MSGPACK:
        return decode_body(body, s.IngestBatch, limit)
    try:
        return _msgpack_decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise InvalidParameterValue(decode_failure(exc, lambda: msgspec.msgpack.decode(body))) from None
    except msgspec.DecodeError as exc:
        raise MalformedRequest(f"Malformed MessagePack in request body: {exc}.") from None
    except RecursionError:
        raise InvalidParameterValue(
            "Invalid value for parameter '(request body)' supplied: MessagePack nested too deep. Send a flatter body."
        ) from None


@accepts(s.IngestBatch)
async def ingest_endpoint(request: Request) -> Response:
    service = request.app.state.service
    limit = service.settings.max_request_bytes
    body = await read_body(request, limit)
    req = decode(body, request.headers.get("content-type", ""), limit)
    await run_in_threadpool(require, request, "EDIT", "run", req.id)
    return JSONResponse(await run_in_threadpool(ingest, service, req))


# Under /api/2.0/modelyard: our extensions.
EXTENSION_ROUTES = [
    ("/runs/ingest", ["POST"], ingest_endpoint),
]
