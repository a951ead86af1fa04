"""/registered-models/*: create, get, rename, update, delete, search, tags, aliases, latest versions.

Plus our extension ``GET /api/2.0/modelyard/registry/audit?name=...``: the
recorded changes to a model. Every registry route records the acting user
(the HTTP Basic username, when the client sends one) in the audit trail.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ...api import schemas_registry as s
from ...errors import InvalidParameterValue
from ...service import TrackingService
from ...service.limits import missing_value
from ...service.registry import SEARCH_MODELS_DEFAULT, acting_user
from ..protocol import accepts, endpoint

S = TypeVar("S", bound=msgspec.Struct)


def request_user(request: Request) -> str | None:
    """The HTTP Basic username of a request, else None (anonymous)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not credentials:
        return None
    try:
        user = base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")[0]
    except (binascii.Error, ValueError):
        return None
    return user or None


def registry_endpoint(schema: type[S], fn: Callable[[Any, S], Any]) -> Callable[[Request], Any]:
    """``endpoint(schema, fn)`` that runs ``fn`` with :data:`acting_user` set from the request."""
    inner = endpoint(schema, fn)

    async def handle(request: Request) -> Response:
        token = acting_user.set(request_user(request))
        try:
            return await inner(request)  # the worker thread inherits the context
        finally:
            acting_user.reset(token)

    return accepts(schema, name=inner.__name__)(handle)


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
    out: dict[str, Any] = {"registered_models": [m.to_dict() for m in page.items]}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


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
    out: dict[str, Any] = {"entries": [e.to_dict() for e in page.items]}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


ROUTES = [
    ("/registered-models/create", ["POST"], registry_endpoint(s.CreateRegisteredModel, create)),
    ("/registered-models/get", ["GET"], registry_endpoint(s.Name, get)),
    ("/registered-models/rename", ["POST"], registry_endpoint(s.RenameRegisteredModel, rename)),
    ("/registered-models/update", ["PATCH"], registry_endpoint(s.UpdateRegisteredModel, update)),
    ("/registered-models/delete", ["DELETE"], registry_endpoint(s.Name, delete)),
    ("/registered-models/search", ["GET"], registry_endpoint(s.SearchRegisteredModels, search)),
    ("/registered-models/get-latest-versions", ["GET", "POST"],
     registry_endpoint(s.GetLatestVersions, latest_versions)),
    ("/registered-models/set-tag", ["POST"], registry_endpoint(s.SetRegisteredModelTag, set_tag)),
    ("/registered-models/delete-tag", ["DELETE"], registry_endpoint(s.DeleteRegisteredModelTag, delete_tag)),
    ("/registered-models/alias", ["POST"], registry_endpoint(s.SetRegisteredModelAlias, set_alias)),
    ("/registered-models/alias", ["DELETE"], registry_endpoint(s.Alias, delete_alias)),
    ("/registered-models/alias", ["GET"], registry_endpoint(s.Alias, get_by_alias)),
]

# Under /api/2.0/modelyard: our extensions.
EXTENSION_ROUTES = [
    ("/registry/audit", ["GET"], registry_endpoint(s.RegistryAudit, audit)),
]
