"""/runs/*: create, get, update, delete, restore, search, logging, tags, inputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...api import schemas as s
from ...entities import (
    Dataset,
    DatasetInput,
    InputTag,
    LoggedModelInput,
    Metric,
    Param,
    RunTag,
)
from ...errors import InvalidParameterValue
from .. import TrackingService
from ..limits import missing_value
from . import page_answer


def _run_id(req: s.RunId) -> str:
    rid = req.id
    if not rid:
        raise InvalidParameterValue(missing_value("run_id"))
    return rid


def create(svc: TrackingService, req: s.CreateRun) -> dict[str, Any]:
    run = svc.runs.create(
        experiment_id=req.experiment_id,
        user_id=req.user_id,
        start_time=req.start_time,
        tags={t.key or "": t.value or "" for t in req.tags},
        run_name=req.run_name,
    )
    return {"run": run.to_dict()}


def get(svc: TrackingService, req: s.RunId) -> dict[str, Any]:
    return {"run": svc.runs.get_dict(_run_id(req))}


def update(svc: TrackingService, req: s.UpdateRun) -> dict[str, Any]:
    info = svc.runs.update(_run_id(req), req.status, req.end_time, req.run_name)
    return {"run_info": info.to_dict()}


def delete(svc: TrackingService, req: s.RunId) -> None:
    svc.runs.delete(_run_id(req))


def restore(svc: TrackingService, req: s.RunId) -> None:
    svc.runs.restore(_run_id(req))


def search(svc: TrackingService, req: s.SearchRuns) -> dict[str, Any]:
    page = svc.runs.search_dicts(
        experiment_ids=req.experiment_ids,
        filter_string=req.filter,
        run_view_type=req.run_view_type or "ACTIVE_ONLY",
        max_results=1000 if req.max_results is None else req.max_results,
        order_by=req.order_by,
        page_token=req.page_token,
    )
    return page_answer("runs", page, encode=False)


def _metric(m: s.MetricIn | s.LogMetric, path: str) -> Metric:
    if m.key is None:
        raise InvalidParameterValue(missing_value(f"{path}key"))
    if m.value is None:
        raise InvalidParameterValue(missing_value(f"{path}value"))
    if m.timestamp is None:
        raise InvalidParameterValue(missing_value(f"{path}timestamp"))
    return Metric(m.key, m.value, m.timestamp, m.step or 0, None, m.model_id or None,
                  m.dataset_name or None, m.dataset_digest or None)


def log_metric(svc: TrackingService, req: s.LogMetric) -> None:
    metric = _metric(req, "")
    svc.runs.log_metric(_run_id(req), metric)  # links a model's point too, in one transaction


def log_param(svc: TrackingService, req: s.LogParam) -> None:
    if req.value is None:
        raise InvalidParameterValue(missing_value("value"))
    svc.runs.log_param(_run_id(req), Param(req.key or "", req.value))


def set_tag(svc: TrackingService, req: s.SetTag) -> None:
    if req.value is None:
        raise InvalidParameterValue(missing_value("value"))
    svc.runs.set_tag(_run_id(req), RunTag(req.key or "", req.value))


def delete_tag(svc: TrackingService, req: s.DeleteTag) -> None:
    svc.runs.delete_tag(_run_id(req), req.key or "")


def _complete(metrics: list[s.MetricIn]) -> bool:
    for m in metrics:
        if m.key is None or m.value is None or m.timestamp is None or m.step is None or m.model_id:
            return False
    return True


def log_batch(svc: TrackingService, req: s.LogBatch) -> None:
    metrics: Sequence[Metric]
    if _complete(req.metrics):
        # MetricIn has Metric's fields: once none is missing, the service takes them as they are
        # (a thousand Metric objects made and dropped cost a quarter of a full batch's CPU).
        metrics = req.metrics  # type: ignore[assignment]
    else:
        metrics = [_metric(m, f"metrics[{i}].") for i, m in enumerate(req.metrics)]
    params = [Param(p.key or "", p.value if p.value is not None else "") for p in req.params]
    tags = [RunTag(t.key or "", t.value if t.value is not None else "") for t in req.tags]
    svc.runs.log_batch(_run_id(req), metrics, params, tags)  # links models' points too, in one transaction


def log_inputs(svc: TrackingService, req: s.LogInputs) -> None:
    items = []
    for i, d in enumerate(req.datasets):
        if d.dataset is None:
            raise InvalidParameterValue(missing_value(f"datasets[{i}].dataset"))
        ds = d.dataset
        items.append(
            DatasetInput(
                Dataset(ds.name or "", ds.digest or "", ds.source_type or "", ds.source or "", ds.schema, ds.profile),
                [InputTag(t.key or "", t.value or "") for t in d.tags],
            )
        )
    svc.runs.log_inputs(_run_id(req), items, [LoggedModelInput(m.model_id or "") for m in req.models])
