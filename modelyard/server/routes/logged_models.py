"""/logged-models/*: MLflow 3 logged models, their artifacts, and ``runs/outputs``.

Paths and methods are MLflow 3.17's (``service.proto``): the model id travels
in the path, e.g. ``PATCH /logged-models/{model_id}`` finalizes and
``DELETE /logged-models/{model_id}/tags/{tag_key}`` deletes a tag. Artifacts
are read through ``/logged-models/{model_id}/artifacts/directories`` (a
listing) and ``/logged-models/{model_id}/artifacts/files`` (a download), as
MLflow's UI does; clients upload to the model's ``artifact_uri`` directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ...api import schemas_logged_models as s
from ...artifacts import safe_relpath
from ...entities.logged_models import LoggedModelOutput
from ...errors import InvalidParameterValue
from ...service import TrackingService
from ...service.limits import missing_value
from ..protocol import (
    JSONResponse,
    accepts,
    decode_body,
    decode_query,
    read_body,
    refuse_nul,
)
from .artifacts import send_file

S = TypeVar("S", bound=msgspec.Struct)


def model_endpoint(schema: type[S], fn: Callable[[TrackingService, S], Any]) -> Callable[[Request], Any]:
    """Like ``protocol.endpoint``, with the path's ``{model_id}`` / ``{tag_key}`` laid over the request."""

    async def handle(request: Request) -> Response:
        service: TrackingService = request.app.state.service
        if request.method == "GET":
            obj = decode_query(request, schema)
        else:
            refuse_nul(request)
            limit = service.settings.max_request_bytes
            obj = decode_body(await read_body(request, limit), schema, limit)
        if request.path_params:
            obj = msgspec.structs.replace(obj, **request.path_params)
        result = await run_in_threadpool(fn, service, obj)
        if isinstance(result, Response):
            return result
        return JSONResponse({} if result is None else result)

    return accepts(schema, name=getattr(fn, "__name__", "endpoint"))(handle)


def _kv(items: list[Any], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, item in enumerate(items):
        if item.value is None:
            raise InvalidParameterValue(missing_value(f"{what}[{i}].value"))
        out[item.key or ""] = item.value
    return out


def create(svc: TrackingService, req: s.CreateLoggedModel) -> dict[str, Any]:
    model = svc.logged_models.create(
        experiment_id=req.experiment_id,
        name=req.name,
        source_run_id=req.source_run_id,
        tags=_kv(req.tags, "tags"),
        params=_kv(req.params, "params"),
        model_type=req.model_type,
    )
    return {"model": model.to_dict()}


def get(svc: TrackingService, req: s.GetLoggedModel) -> dict[str, Any]:
    return {"model": svc.logged_models.get(req.model_id or "", allow_deleted=bool(req.allow_deleted)).to_dict()}


def finalize(svc: TrackingService, req: s.FinalizeLoggedModel) -> dict[str, Any]:
    return {"model": svc.logged_models.finalize(req.model_id or "", req.status).to_dict()}


def delete(svc: TrackingService, req: s.ModelId) -> None:
    svc.logged_models.delete(req.model_id or "")


def set_tags(svc: TrackingService, req: s.SetLoggedModelTags) -> None:
    svc.logged_models.set_tags(req.model_id or "", _kv(req.tags, "tags"))


def delete_tag(svc: TrackingService, req: s.DeleteLoggedModelTag) -> None:
    svc.logged_models.delete_tag(req.model_id or "", req.tag_key or "")


def log_params(svc: TrackingService, req: s.LogLoggedModelParams) -> None:
    svc.logged_models.log_params(req.model_id or "", _kv(req.params, "params"))


def search(svc: TrackingService, req: s.SearchLoggedModels) -> dict[str, Any]:
    page = svc.logged_models.search(
        experiment_ids=req.experiment_ids,
        filter_string=req.filter,
        datasets=[msgspec.structs.asdict(d) for d in req.datasets],
        max_results=req.max_results or None,
        order_by=[msgspec.structs.asdict(o) for o in req.order_by],
        page_token=req.page_token,
    )
    out: dict[str, Any] = {"models": [m.to_dict() for m in page.items]}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


def log_outputs(svc: TrackingService, req: s.LogOutputs) -> None:
    if not req.run_id:
        raise InvalidParameterValue(missing_value("run_id"))
    outputs = [LoggedModelOutput(m.model_id or "", m.step or 0) for m in req.models]
    svc.logged_models.log_outputs(req.run_id, outputs)


def list_artifacts(svc: TrackingService, req: s.ListLoggedModelArtifacts) -> dict[str, Any]:
    model = svc.logged_models.get(req.model_id or "")
    files = svc.artifacts.list(model.artifact_location, req.artifact_directory_path)
    out: dict[str, Any] = {"root_uri": model.artifact_location}
    if files:
        out["files"] = [f.to_dict() for f in files]
    return out


def download_artifact(svc: TrackingService, req: s.GetLoggedModelArtifact) -> Response:
    if not req.artifact_file_path:
        raise InvalidParameterValue('Request must include the "artifact_file_path" query parameter.')
    path = safe_relpath(req.artifact_file_path, "artifact_file_path")
    model = svc.logged_models.get(req.model_id or "")
    return send_file(svc.artifacts.repository(model.artifact_location), path)


ROUTES = [
    ("/logged-models", ["POST"], model_endpoint(s.CreateLoggedModel, create)),
    ("/logged-models/search", ["POST"], model_endpoint(s.SearchLoggedModels, search)),
    ("/logged-models/{model_id}", ["GET"], model_endpoint(s.GetLoggedModel, get)),
    ("/logged-models/{model_id}", ["PATCH"], model_endpoint(s.FinalizeLoggedModel, finalize)),
    ("/logged-models/{model_id}", ["DELETE"], model_endpoint(s.ModelId, delete)),
    ("/logged-models/{model_id}/tags", ["PATCH"], model_endpoint(s.SetLoggedModelTags, set_tags)),
    ("/logged-models/{model_id}/tags/{tag_key:path}", ["DELETE"], model_endpoint(s.DeleteLoggedModelTag, delete_tag)),
    ("/logged-models/{model_id}/params", ["POST"], model_endpoint(s.LogLoggedModelParams, log_params)),
    ("/logged-models/{model_id}/artifacts/directories", ["GET"],
     model_endpoint(s.ListLoggedModelArtifacts, list_artifacts)),
    ("/logged-models/{model_id}/artifacts/files", ["GET"], model_endpoint(s.GetLoggedModelArtifact, download_artifact)),
    ("/runs/outputs", ["POST"], model_endpoint(s.LogOutputs, log_outputs)),
]
