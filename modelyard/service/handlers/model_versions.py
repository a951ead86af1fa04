"""/model-versions/*: create, get, update, delete, search, tags, stage transitions, download URI."""

from __future__ import annotations

from typing import Any

from ...api import schemas_registry as s
from .. import TrackingService
from ..registry import SEARCH_VERSIONS_DEFAULT
from . import page_answer
from .registered_models import required


def _version(req: s.Version) -> str:
    return str(required(req.version, "version"))


def create(svc: TrackingService, req: s.CreateModelVersion) -> dict[str, Any]:
    mv = svc.registry.create_model_version(
        name=req.name or "",
        source=req.source or "",
        run_id=req.run_id,
        tags={t.key or "": t.value if t.value is not None else "" for t in req.tags},
        run_link=req.run_link,
        description=req.description,
        model_id=req.model_id,
    )
    return {"model_version": mv.to_dict()}


def get(svc: TrackingService, req: s.Version) -> dict[str, Any]:
    return {"model_version": svc.registry.get_model_version(req.name or "", _version(req)).to_dict()}


def update(svc: TrackingService, req: s.UpdateModelVersion) -> dict[str, Any]:
    mv = svc.registry.update_model_version(req.name or "", _version(req), req.description)
    return {"model_version": mv.to_dict()}


def delete(svc: TrackingService, req: s.Version) -> None:
    svc.registry.delete_model_version(req.name or "", _version(req))


def transition_stage(svc: TrackingService, req: s.TransitionModelVersionStage) -> dict[str, Any]:
    mv = svc.registry.transition_model_version_stage(
        req.name or "", _version(req), required(req.stage, "stage"), bool(req.archive_existing_versions)
    )
    return {"model_version": mv.to_dict()}


def download_uri(svc: TrackingService, req: s.Version) -> dict[str, Any]:
    return {"artifact_uri": svc.registry.get_model_version_download_uri(req.name or "", _version(req))}


def search(svc: TrackingService, req: s.SearchModelVersions) -> dict[str, Any]:
    page = svc.registry.search_model_versions(
        filter_string=req.filter,
        max_results=SEARCH_VERSIONS_DEFAULT if req.max_results is None else req.max_results,
        order_by=req.order_by,
        page_token=req.page_token,
    )
    return page_answer("model_versions", page)


def set_tag(svc: TrackingService, req: s.SetModelVersionTag) -> None:
    value = req.value if req.value is not None else ""
    svc.registry.set_model_version_tag(req.name or "", _version(req), required(req.key, "key"), value)


def delete_tag(svc: TrackingService, req: s.DeleteModelVersionTag) -> None:
    svc.registry.delete_model_version_tag(req.name or "", _version(req), required(req.key, "key"))
