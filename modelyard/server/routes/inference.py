"""/api/2.0/modelyard/inference/*: the serving request log and ground-truth feedback, in bulk.

``POST inference/requests`` stores served requests (``{"requests": [...]}``),
``GET inference/requests`` reads them back joined with their labels (monitoring),
``POST inference/feedback`` attaches labels (``{"feedback": [{"request_id", "label"}]}``).
"""

from __future__ import annotations

from typing import Any

import msgspec

from ...api.schemas import Int64
from ...service import TrackingService
from ..protocol import endpoint


class LogRequests(msgspec.Struct):
    requests: list[dict[str, Any]] = []


class LogFeedback(msgspec.Struct):
    feedback: list[dict[str, Any]] = []


class SearchRequests(msgspec.Struct):
    model_name: str | None = None
    model_version: str | None = None
    start_time_ms: Int64 | None = None
    end_time_ms: Int64 | None = None
    max_results: Int64 = 1000
    offset: Int64 = 0


def log_requests(svc: TrackingService, req: LogRequests) -> dict[str, Any]:
    return {"logged": svc.inference.log_requests(req.requests)}


def log_feedback(svc: TrackingService, req: LogFeedback) -> dict[str, Any]:
    return {"logged": svc.inference.log_feedback(req.feedback)}


def search_requests(svc: TrackingService, req: SearchRequests) -> dict[str, Any]:
    found = svc.inference.search(
        req.model_name, req.model_version, req.start_time_ms, req.end_time_ms, req.max_results, req.offset
    )
    return {"requests": [r.to_dict() for r in found]}


EXTENSION_ROUTES = [
    ("/inference/requests", ["POST"], endpoint(LogRequests, log_requests)),
    ("/inference/requests", ["GET"], endpoint(SearchRequests, search_requests)),
    ("/inference/feedback", ["POST"], endpoint(LogFeedback, log_feedback)),
]
