"""/metrics/*: history, paged, in bulk across runs (MLflow's UI call), and sampled across runs."""

from __future__ import annotations

from typing import Any

from ...api import schemas as s
from ...errors import InvalidParameterValue, ResourceDoesNotExist
from .. import TrackingService, limits
from ..limits import missing_value
from . import page_answer


def get_history(svc: TrackingService, req: s.GetMetricHistory) -> dict[str, Any]:
    run_id = req.id
    if not run_id:
        raise InvalidParameterValue(missing_value("run_id"))
    page = svc.runs.metric_history_dicts(run_id, req.metric_key or "", req.max_results, req.page_token)
    return page_answer("metrics", page, encode=False)


def get_history_bulk_interval(svc: TrackingService, req: s.GetMetricHistoryBulkInterval) -> dict[str, Any]:
    points = svc.runs.metric_history_bulk_interval(
        req.run_ids, req.metric_key or "", req.start_step, req.end_step, req.max_results
    )
    return {"metrics": [m.to_dict() for m in points]}


MAX_BULK_RUNS = 100
MAX_BULK_RESULTS = 25_000


def get_history_bulk(svc: TrackingService, req: s.GetMetricHistoryBulk) -> dict[str, Any]:
    """Every run's points of one metric (MLflow's UI call): by run id, then timestamp, step and value."""
    if not req.run_id:
        raise InvalidParameterValue("GetMetricHistoryBulk request must specify at least one run_id.")
    if len(req.run_id) > MAX_BULK_RUNS:
        raise InvalidParameterValue(
            f"GetMetricHistoryBulk request cannot specify more than {MAX_BULK_RUNS} run_ids."
            f" Received {len(req.run_id)} run_ids.")
    if req.metric_key is None:
        raise InvalidParameterValue("GetMetricHistoryBulk request must specify a metric_key.")
    limit = MAX_BULK_RESULTS if req.max_results is None else min(req.max_results, MAX_BULK_RESULTS)
    limits.check_max_results(limit, MAX_BULK_RESULTS)
    points: list[dict[str, Any]] = []
    for run_id in sorted(set(req.run_id)):
        if len(points) >= limit:
            break
        try:
            found = svc.runs.metric_history_dicts(limits.check_run_id(run_id), req.metric_key, limit)
        except ResourceDoesNotExist:  # as MLflow: a run that is not there has no points
            continue
        found.sort(key=lambda m: (m["timestamp"], m["step"], float(m["value"])))
        points.extend({**m, "run_id": run_id} for m in found)
    return {"metrics": points[:limit]}
