"""/experiments/*: create, get, search, update, delete, restore, tags, and the datasets their runs used."""

from __future__ import annotations

from typing import Any

from ...api import schemas as s
from ...errors import ResourceDoesNotExist
from .. import TrackingService
from . import page_answer


def create(svc: TrackingService, req: s.CreateExperiment) -> dict[str, Any]:
    tags = {t.key or "": t.value or "" for t in req.tags}
    return {"experiment_id": svc.experiments.create(req.name or "", req.artifact_location, tags)}


def get(svc: TrackingService, req: s.ExperimentId) -> dict[str, Any]:
    return {"experiment": svc.experiments.get(req.experiment_id or "").to_dict()}


def get_by_name(svc: TrackingService, req: s.GetExperimentByName) -> dict[str, Any]:
    exp = svc.experiments.get_by_name(req.experiment_name or "")
    if exp is None:
        raise ResourceDoesNotExist(f"Could not find experiment with name {req.experiment_name}")
    return {"experiment": exp.to_dict()}


def search(svc: TrackingService, req: s.SearchExperiments) -> dict[str, Any]:
    page = svc.experiments.search(
        view_type=req.view_type or "ACTIVE_ONLY",
        max_results=1000 if req.max_results is None else req.max_results,
        filter_string=req.filter,
        order_by=req.order_by,
        page_token=req.page_token,
    )
    return page_answer("experiments", page)


def update(svc: TrackingService, req: s.UpdateExperiment) -> None:
    svc.experiments.rename(req.experiment_id or "", req.new_name or "")


def delete(svc: TrackingService, req: s.ExperimentId) -> None:
    svc.experiments.delete(req.experiment_id or "")


def restore(svc: TrackingService, req: s.ExperimentId) -> None:
    svc.experiments.restore(req.experiment_id or "")


def set_tag(svc: TrackingService, req: s.SetExperimentTag) -> None:
    svc.experiments.set_tag(req.experiment_id or "", req.key or "", req.value if req.value is not None else "")


def delete_tag(svc: TrackingService, req: s.DeleteExperimentTag) -> None:
    svc.experiments.delete_tag(req.experiment_id or "", req.key or "")


def search_datasets(svc: TrackingService, req: s.SearchDatasets) -> dict[str, Any]:
    return {"dataset_summaries": svc.runs.dataset_summaries(req.experiment_ids)}
