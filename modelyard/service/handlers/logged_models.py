"""/logged-models/*: MLflow 3 logged models, and ``runs/outputs``.

Paths and methods are MLflow 3.17's (``service.proto``): the model id travels in the path, e.g.
``PATCH /logged-models/{model_id}`` finalizes and ``DELETE /logged-models/{model_id}/tags/{tag_key}``
deletes a tag. Artifacts are listed here (``/artifacts/directories``); a download
(``/artifacts/files``, a stream) is a route of ``modelyard.server.routes.logged_models``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ...api import schemas_logged_models as s
from ...entities.logged_models import LoggedModelOutput
from ...errors import InvalidParameterValue
from .. import TrackingService
from ..limits import missing_value
from . import page_answer


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
    return page_answer("models", page)


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
