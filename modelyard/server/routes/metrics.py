"""/metrics/*: history, paged, and sampled across runs."""

from __future__ import annotations

from typing import Any

from ...errors import InvalidParameterValue
from ...service import TrackingService
from ...service.limits import missing_value
from .. import schemas as s
from ..protocol import endpoint


def get_history(svc: TrackingService, req: s.GetMetricHistory) -> dict[str, Any]:
    run_id = req.id
    if not run_id:
        raise InvalidParameterValue(missing_value("run_id"))
    page = svc.runs.metric_history_dicts(run_id, req.metric_key or "", req.max_results, req.page_token)
    out: dict[str, Any] = {"metrics": page.items}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


def get_history_bulk_interval(svc: TrackingService, req: s.GetMetricHistoryBulkInterval) -> dict[str, Any]:
    points = svc.runs.metric_history_bulk_interval(
        req.run_ids, req.metric_key or "", req.start_step, req.end_step, req.max_results
    )
    return {"metrics": [m.to_dict() for m in points]}


ROUTES = [
    ("/metrics/get-history", ["GET"], endpoint(s.GetMetricHistory, get_history)),
    ("/metrics/get-history-bulk-interval", ["GET"], endpoint(s.GetMetricHistoryBulkInterval, get_history_bulk_interval)),
]
