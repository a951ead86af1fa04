"""``POST /v1/traces``: spans exported over OTLP/HTTP (protobuf or JSON, optionally gzip).

The experiment comes in the ``x-mlflow-experiment-id`` header or the ``experiment_id`` query
parameter (and, optionally, a run to link the traces to in ``x-mlflow-run-id``); the answer is an
empty ``ExportTraceServiceResponse``. Not an operation of the table: its body is OpenTelemetry's,
not a JSON request. Everything else of tracing is (``api/traces.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ...api import schemas_traces as s
from ...errors import InvalidParameterValue
from ...service import TrackingService
from .. import otlp
from ..auth import principal_of, require
from ..hotpath import HotCall, HotPath
from ..protocol import JSONResponse, accepts, read_body


def export_spans(svc: TrackingService, req: s.ExportSpans) -> dict[str, Any]:
    svc.traces.log_spans(req.experiment_id, req.spans, run_id=req.run_id)
    return {}


# The official client posts every span on its own (a few hundred bytes): such a body is stored the way the
# hot calls are (HotPath: on the event loop when the store's writer is free, one commit, no thread hop).
_EXPORT = HotCall(s.ExportSpans, export_spans)


async def _store(request: Request, service: TrackingService, req: s.ExportSpans, size: int) -> Response | None:
    """Store the spans; None when stored, else the error answer (as the routes answer it)."""
    hot: HotPath | None = getattr(request.app, "hot", None)
    if hot is None:
        await run_in_threadpool(export_spans, service, req)
        return None
    path = request.url.path
    outcome = hot.answer_group([(_EXPORT, req, path)]) if hot.may_answer_now(size) else None
    if outcome is None:  # on the store's writer (SQLite) or the default executor: no anyio thread hop
        answer: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()

        def reply(status: int, payload: bytes) -> None:
            if not answer.done():
                answer.set_result((status, payload))

        hot.dispatch(_EXPORT, b"", path, reply, req)
        outcome = [await answer]
    status, payload = outcome[0]
    return None if status == 200 else Response(payload, status, media_type="application/json")


async def otlp_export(request: Request) -> Response:
    """``POST /v1/traces``: decode the OTLP body, then :func:`export_spans`."""
    service: TrackingService = request.app.state.service
    experiment_id = request.headers.get("x-mlflow-experiment-id") or request.query_params.get("experiment_id")
    run_id = request.headers.get("x-mlflow-run-id") or None
    # With --auth: EDIT on the experiment the spans go to (and on the run they link to), before the body is read.
    if principal_of(request) is not None:
        await run_in_threadpool(require, request, "EDIT", "experiment", experiment_id)
        await run_in_threadpool(require, request, "EDIT", "run", run_id)
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media_type not in otlp.MEDIA_TYPES:
        raise InvalidParameterValue(
            f"Invalid Content-Type '{media_type}' for /v1/traces: send application/x-protobuf or application/json.")
    limit = service.settings.max_request_bytes
    body = otlp.inflate(await read_body(request, limit), request.headers.get("content-encoding") or "", limit)
    req = s.ExportSpans(experiment_id, otlp.decode(body, media_type), run_id)
    failed = await _store(request, service, req, len(body))
    if failed is not None:
        return failed
    if media_type == "application/json":
        return JSONResponse({})
    return Response(b"", media_type="application/x-protobuf")


otlp_export = accepts(s.ExportSpans, query_methods=(), name="export_spans")(otlp_export)



ABSOLUTE_ROUTES = [
    ("/v1/traces", ["POST"], otlp_export),
]
