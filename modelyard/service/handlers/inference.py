"""/api/2.0/modelyard/inference/*: the serving request log and ground-truth feedback, in bulk.

``POST inference/requests`` stores served requests (``{"requests": [...]}``),
``GET inference/requests`` reads them back joined with their labels (monitoring),
``POST inference/feedback`` attaches labels (``{"feedback": [{"request_id", "label"}]}``).
"""

from __future__ import annotations

from typing import Any

from ...api import schemas_inference as s
from .. import TrackingService


def log_requests(svc: TrackingService, req: s.LogRequests) -> dict[str, Any]:
    return {"logged": svc.inference.log_requests(req.requests)}


def log_feedback(svc: TrackingService, req: s.LogFeedback) -> dict[str, Any]:
    return {"logged": svc.inference.log_feedback(req.feedback)}


def search_requests(svc: TrackingService, req: s.SearchRequests) -> dict[str, Any]:
    found = svc.inference.search(
        req.model_name, req.model_version, req.start_time_ms, req.end_time_ms, req.max_results, req.offset
    )
    return {"requests": [r.to_dict() for r in found]}
