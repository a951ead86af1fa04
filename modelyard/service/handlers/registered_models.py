"""/registered-models/*: create, get, rename, update, delete, search, tags, aliases, latest versions.

Plus our extension ``GET /api/2.0/modelyard/registry/audit?name=...``: the
recorded changes to a model. Every change is recorded in the audit trail with
the acting user (over HTTP, the Basic username the client sends, if any).
"""

from __future__ import annotations

from typing import Any

from ...api import schemas_registry as s
from ...errors import InvalidParameterValue
from .. import TrackingService
from ..limits import missing_value
from ..registry import SEARCH_MODELS_DEFAULT
from . import page_answer


def required(value: Any, path: str) -> Any:
    if value is None or value == "":
        raise InvalidParameterValue(missing_value(path))
    return value


def _tags(items: list[Any]) -> dict[str, str]:
    return {t.key or "": t.value if t.value is not None else "" for t in items}


def create(svc: TrackingService, req: s.CreateRegisteredModel) -> dict[str, Any]:
    model = svc.registry.create_registered_model(req.name or "", _tags(req.tags), req.description)
    return {"registered_model": model.to_dict()}


def get(svc: TrackingService, req: s.Name) -> dict[str, Any]:
    return {"registered_model": svc.registry.get_registered_model(req.name or "").to_dict()}


def rename(svc: TrackingService, req: s.RenameRegisteredModel) -> dict[str, Any]:
    model = svc.registry.rename_registered_model(req.name or "", req.new_name or "")
    return {"registered_model": model.to_dict()}


def update(svc: TrackingService, req: s.UpdateRegisteredModel) -> dict[str, Any]:
    model = svc.registry.update_registered_model(req.name or "", req.description)
    return {"registered_model": model.to_dict()}


def delete(svc: TrackingService, req: s.Name) -> None:
    svc.registry.delete_registered_model(req.name or "")


def search(svc: TrackingService, req: s.SearchRegisteredModels) -> dict[str, Any]:
    page = svc.registry.search_registered_models(
        filter_string=req.filter,
        max_results=SEARCH_MODELS_DEFAULT if req.max_results is None else req.max_results,
        order_by=req.order_by,
        page_token=req.page_token,
    )
    return page_answer("registered_models", page)


def latest_versions(svc: TrackingService, req: s.GetLatestVersions) -> dict[str, Any]:
    versions = svc.registry.get_latest_versions(req.name or "", req.stages)
    return {"model_versions": [v.to_dict() for v in versions]}


def set_tag(svc: TrackingService, req: s.SetRegisteredModelTag) -> None:
    svc.registry.set_registered_model_tag(req.name or "", required(req.key, "key"), req.value)


def delete_tag(svc: TrackingService, req: s.DeleteRegisteredModelTag) -> None:
    svc.registry.delete_registered_model_tag(req.name or "", required(req.key, "key"))


def set_alias(svc: TrackingService, req: s.SetRegisteredModelAlias) -> None:
    svc.registry.set_registered_model_alias(req.name or "", req.alias or "", required(req.version, "version"))


def delete_alias(svc: TrackingService, req: s.Alias) -> None:
    svc.registry.delete_registered_model_alias(req.name or "", req.alias or "")


def get_by_alias(svc: TrackingService, req: s.Alias) -> dict[str, Any]:
    return {"model_version": svc.registry.get_model_version_by_alias(req.name or "", req.alias or "").to_dict()}


def audit(svc: TrackingService, req: s.RegistryAudit) -> dict[str, Any]:
    page = svc.registry.audit(req.name or "", 1000 if req.max_results is None else req.max_results, req.page_token)
    return page_answer("entries", page)
