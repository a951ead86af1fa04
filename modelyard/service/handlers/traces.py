"""MLflow 3's tracing API (see ``api/traces.py``): trace info, reads, search, tags, links, assessments.

Spans arrive through ``POST /v1/traces`` (OTLP), the route in ``server/routes/traces.py``.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from ...api import schemas_traces as s
from ...errors import InvalidParameterValue
from .. import TrackingService
from ..limits import missing_value


def _trace(info: Any, spans: list[Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"trace_info": info.to_dict()}
    if spans is not None:
        out["spans"] = [msgspec.Raw(sp.content) for sp in spans]  # stored as served: no decoding
    return out


# ---- traces ----------------------------------------------------------------


def start_trace(svc: TrackingService, req: s.StartTrace) -> dict[str, Any]:
    if req.trace is None or req.trace.trace_info is None:
        raise InvalidParameterValue(missing_value("trace.trace_info"))
    return {"trace": _trace(svc.traces.start_trace(req.trace.trace_info))}


def get_trace_info(svc: TrackingService, req: s.TraceId) -> dict[str, Any]:
    return {"trace": _trace(svc.traces.get_info(req.trace_id or ""))}


def get_trace(svc: TrackingService, req: s.GetTrace) -> dict[str, Any]:
    info, spans, token = svc.traces.get_trace(req.trace_id or "", req.max_spans, req.page_token)
    out: dict[str, Any] = {"trace": _trace(info, spans)}
    if token:
        out["next_page_token"] = token
    return out


def batch_get_traces(svc: TrackingService, req: s.BatchGetTraces) -> dict[str, Any]:
    found = svc.traces.batch_get(req.trace_ids, experiment_ids=req.experiment_ids or None)
    return {"traces": [_trace(info, spans) for info, spans in found]}


def batch_get_trace_infos(svc: TrackingService, req: s.BatchGetTraces) -> dict[str, Any]:
    found = svc.traces.batch_get(req.trace_ids, with_spans=False, experiment_ids=req.experiment_ids or None)
    return {"trace_infos": [info.to_dict() for info, _ in found]}


def search_traces(svc: TrackingService, req: s.SearchTraces) -> dict[str, Any]:
    ids: list[Any] = list(req.experiment_ids)
    for i, loc in enumerate(req.locations):
        if loc.mlflow_experiment is None or not loc.mlflow_experiment.experiment_id:
            raise InvalidParameterValue(
                f"Unsupported trace location at locations[{i}]: this server holds traces of MLflow experiments; "
                "send {'type': 'MLFLOW_EXPERIMENT', 'mlflow_experiment': {'experiment_id': '<id>'}}.")
        ids.append(loc.mlflow_experiment.experiment_id)
    infos, token = svc.traces.search(ids, req.filter, req.max_results, req.order_by or None, req.page_token)
    out: dict[str, Any] = {"traces": [i.to_dict() for i in infos]}
    if token:
        out["next_page_token"] = token
    return out


def delete_traces(svc: TrackingService, req: s.DeleteTraces) -> dict[str, Any]:
    deleted = svc.traces.delete_traces(req.experiment_id, req.max_timestamp_millis, req.max_traces,
                                       req.request_ids or None)
    return {"traces_deleted": deleted}


def delete_traces_of(svc: TrackingService, req: s.DeleteTracesOf) -> dict[str, Any]:
    return {"traces_deleted": svc.traces.delete_of(req.experiment_id, req.user, req.session_id)}


def set_trace_tag(svc: TrackingService, req: s.SetTraceTag) -> None:
    svc.traces.set_tag(req.trace_id or req.request_id or "", req.key, req.value)


def delete_trace_tag(svc: TrackingService, req: s.DeleteTraceTag) -> None:
    svc.traces.delete_tag(req.trace_id or req.request_id or "", req.key)


def link_traces_to_run(svc: TrackingService, req: s.LinkTracesToRun) -> None:
    if not req.run_id:
        raise InvalidParameterValue(missing_value("run_id"))
    svc.traces.link_to_run(req.trace_ids, req.run_id)


def link_prompts_to_trace(svc: TrackingService, req: s.LinkPromptsToTrace) -> None:
    svc.traces.link_prompts(req.trace_id or "", [(p.name, p.version) for p in req.prompt_versions])


# ---- assessments -----------------------------------------------------------


def create_assessment(svc: TrackingService, req: s.CreateAssessment) -> dict[str, Any]:
    if req.assessment is None:
        raise InvalidParameterValue(missing_value("assessment"))
    body = dict(req.assessment)
    if req.trace_id:
        body["trace_id"] = req.trace_id
    return {"assessment": svc.assessments.create(body)}


def get_assessment(svc: TrackingService, req: s.AssessmentId) -> dict[str, Any]:
    return {"assessment": svc.assessments.get(req.trace_id or "", req.assessment_id or "")}


def _mask(mask: s.FieldMask | str | None) -> list[str]:
    """A ``FieldMask``: protobuf JSON writes it as one comma-separated string of lowerCamelCase paths."""
    if mask is None:
        return []
    paths = mask.paths if isinstance(mask, s.FieldMask) else [p for p in mask.split(",") if p]
    return [re.sub(r"(?<!^)([A-Z])", lambda m: "_" + m.group(1).lower(), p.strip()) for p in paths]


def update_assessment(svc: TrackingService, req: s.UpdateAssessment) -> dict[str, Any]:
    if req.assessment is None:
        raise InvalidParameterValue(missing_value("assessment"))
    updated = svc.assessments.update(req.trace_id or "", req.assessment_id or "", req.assessment, _mask(req.update_mask))
    return {"assessment": updated}


def delete_assessment(svc: TrackingService, req: s.AssessmentId) -> None:
    svc.assessments.delete(req.trace_id or "", req.assessment_id or "")
