"""``POST /v1/traces``: spans exported over OTLP/HTTP (protobuf or JSON, optionally gzip).

The experiment comes in the ``x-mlflow-experiment-id`` header or the ``experiment_id`` query
parameter (and, optionally, a run to link the traces to in ``x-mlflow-run-id``); the answer is an
empty ``ExportTraceServiceResponse``. Not an operation of the table: its body is OpenTelemetry's,
not a JSON request. Everything else of tracing is (``api/traces.py``).

The official MLflow client posts every span on its own, so this route is a plain ASGI endpoint
(:class:`OtlpExport`, behind every middleware like any route): it reads the four headers it needs
straight from the scope, and stores the spans the way the hot calls are stored
(:class:`~..hotpath.HotPath`: on the event loop when the store's writer is free, one commit, no
thread hop), without Starlette's ``Request``/``Response`` objects.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from ...api import schemas_traces as s
from ...errors import InvalidParameterValue
from ...service import TrackingService
from ...web.request_body import receive_body
from .. import otlp
from ..auth import PRINCIPAL, require
from ..hotpath import HotCall, HotPath
from ..protocol import too_large


def export_spans(svc: TrackingService, req: s.ExportSpans) -> dict[str, Any]:
    svc.traces.log_spans(req.experiment_id, req.spans, run_id=req.run_id)
    return {}


_EXPORT = HotCall(s.ExportSpans, export_spans)
# The headers the route reads, by their lower-case ASGI names.
_EXPERIMENT, _RUN, _TYPE, _ENCODING = b"x-mlflow-experiment-id", b"x-mlflow-run-id", b"content-type", b"content-encoding"
_WANTED = frozenset((_EXPERIMENT, _RUN, _TYPE, _ENCODING))
_ANSWERS = {
    "application/json": (b"{}", b"application/json"),
    "application/x-protobuf": (b"", b"application/x-protobuf"),
}


async def _store(hot: HotPath | None, service: TrackingService, req: s.ExportSpans, path: str,
                 size: int) -> tuple[int, bytes] | None:
    """Store the spans; None when stored, else the error answer (as the routes answer it)."""
    if hot is None:
        await run_in_threadpool(export_spans, service, req)
        return None
    outcome = hot.answer_group([(_EXPORT, req, path)]) if hot.may_answer_now(size) else None
    if outcome is None:  # on the store's writer (SQLite) or the default executor: no anyio thread hop
        answer: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()

        def reply(status: int, payload: bytes) -> None:
            if not answer.done():
                answer.set_result((status, payload))

        hot.dispatch(_EXPORT, b"", path, reply, req)
        outcome = [await answer]
    return None if outcome[0][0] == 200 else outcome[0]


async def _send(send: Send, status: int, payload: bytes, media_type: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(payload)).encode()), (b"content-type", media_type)]})
    await send({"type": "http.response.body", "body": payload})


class OtlpExport:
    """ASGI endpoint of ``POST /v1/traces``: decode the OTLP body, then :func:`export_spans`.

    Errors are raised, and answered by the app's handlers as every route's are."""

    request_schema = s.ExportSpans  # for the OpenAPI document (as protocol.accepts marks endpoints)
    query_methods: tuple[str, ...] = ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope["app"]
        service: TrackingService = app.state.service
        found: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in _WANTED and name not in found:  # the first of a repeated header, as Starlette's Headers
                found[name] = value
        experiment_id = found.get(_EXPERIMENT, b"").decode("latin-1") or self._query_experiment(scope)
        run_id = found.get(_RUN, b"").decode("latin-1") or None
        # With --auth: EDIT on the experiment the spans go to (and on the run they link to), before the body is read.
        if scope.get(PRINCIPAL) is not None:
            request = Request(scope, receive)
            await run_in_threadpool(require, request, "EDIT", "experiment", experiment_id)
            await run_in_threadpool(require, request, "EDIT", "run", run_id)
        media_type = found.get(_TYPE, b"").decode("latin-1").split(";")[0].strip().lower()
        answer = _ANSWERS.get(media_type)
        if answer is None:
            raise InvalidParameterValue(
                f"Invalid Content-Type '{media_type}' for /v1/traces: send application/x-protobuf or application/json.")
        limit = service.settings.max_request_bytes
        raw = await receive_body(scope, receive, limit, too_large)
        if raw is None:
            return  # the client went away before its body was whole: nothing stored, no one to answer
        body = otlp.inflate(raw, found.get(_ENCODING, b"").decode("latin-1"), limit)
        req = s.ExportSpans(experiment_id, otlp.decode(body, media_type), run_id)
        failed = await _store(getattr(app, "hot", None), service, req, scope["path"], len(body))
        if failed is not None:
            await _send(send, *failed, b"application/json")
            return
        await _send(send, 200, *answer)

    @staticmethod
    def _query_experiment(scope: Scope) -> str | None:
        query = scope.get("query_string", b"")
        found = None
        if query:  # the last value of a repeated parameter, as Starlette's QueryParams
            for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
                if key == "experiment_id":
                    found = value
        return found


otlp_export = OtlpExport()

ABSOLUTE_ROUTES = [
    ("/v1/traces", ["POST"], otlp_export),
]
