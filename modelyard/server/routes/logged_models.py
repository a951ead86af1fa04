"""``GET /logged-models/{model_id}/artifacts/files``: a logged model's artifact, streamed.

A download answers with the file, not JSON, so it is a route of its own; the logged-models API's
other calls are operations of the table (:mod:`modelyard.api.logged_models`).
"""

from __future__ import annotations

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ...api import schemas_logged_models as s
from ...artifacts import safe_relpath
from ...errors import InvalidParameterValue
from ...service import TrackingService
from ..auth import require
from ..protocol import accepts, decode_query
from .artifacts import send_file


def _download(svc: TrackingService, req: s.GetLoggedModelArtifact) -> Response:
    if not req.artifact_file_path:
        raise InvalidParameterValue('Request must include the "artifact_file_path" query parameter.')
    path = safe_relpath(req.artifact_file_path, "artifact_file_path")
    model = svc.logged_models.get(req.model_id or "")
    return send_file(svc.artifacts.repository(model.artifact_location), path)


@accepts(s.GetLoggedModelArtifact, name="download_artifact")
async def download_artifact(request: Request) -> Response:
    """The file ``artifact_file_path`` of the model's artifacts."""
    service: TrackingService = request.app.state.service
    req = msgspec.structs.replace(decode_query(request, s.GetLoggedModelArtifact), **request.path_params)
    await run_in_threadpool(require, request, "READ", "logged_model", req.model_id)
    return await run_in_threadpool(_download, service, req)


ROUTES = [
    ("/logged-models/{model_id}/artifacts/files", ["GET"], download_artifact),
]
