"""Artifacts: ``/artifacts/list`` and the ``mlflow-artifacts`` proxy (upload, download, list, delete)."""

from __future__ import annotations

import sys
import tempfile
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ...artifacts import safe_relpath
from ...errors import (
    EndpointNotFound,
    InvalidParameterValue,
    ModelyardError,
    RequestTooLarge,
    ResourceDoesNotExist,
)
from ...service import TrackingService
from ...service.limits import missing_value
from .. import schemas as s
from ..protocol import (
    JSONResponse,
    artifact_response,
    decode_query,
    endpoint,
    stream_body,
)

_SPOOL = 8 * 1024 * 1024


def list_run_artifacts(svc: TrackingService, req: s.ListArtifacts) -> dict[str, Any]:
    run_id = req.id
    if not run_id:
        raise InvalidParameterValue(missing_value("run_id"))
    run = svc.runs.get(run_id)
    files = svc.artifacts.list(run.info.artifact_uri, req.path)
    out: dict[str, Any] = {"root_uri": run.info.artifact_uri}
    if files:
        out["files"] = [f.to_dict() for f in files]
    return out


ROUTES = [
    ("/artifacts/list", ["GET"], endpoint(s.ListArtifacts, list_run_artifacts)),
]


def _proxy_repo(request: Request):  # type: ignore[no-untyped-def]
    svc: TrackingService = request.app.state.service
    if not svc.settings.serve_artifacts:
        raise EndpointNotFound(
            "This server does not serve artifacts: start it with --serve-artifacts to use mlflow-artifacts."
        )
    return svc.artifacts.proxied_repository()


def _path_param(request: Request) -> str:
    raw = request.path_params.get("artifact_path", "")
    path = safe_relpath(raw, "artifact_path")
    if not path:
        raise InvalidParameterValue("An artifact path is required: /mlflow-artifacts/artifacts/<path>.")
    return path


async def proxy_list(request: Request) -> Response:
    repo = _proxy_repo(request)
    req = decode_query(request, s.ListProxiedArtifacts)
    path = safe_relpath(req.path)
    files = await run_in_threadpool(repo.list, path)
    out: dict[str, Any] = {}
    if files:
        out["files"] = [
            {**f.to_dict(), "path": f.path.rsplit("/", 1)[-1]} for f in files
        ]
    return JSONResponse(out)


async def proxy_download(request: Request) -> Response:
    repo = _proxy_repo(request)
    path = _path_param(request)
    if not await run_in_threadpool(repo.is_file, path):
        raise ResourceDoesNotExist(f"Artifact {path!r} does not exist.")
    chunks = await run_in_threadpool(repo.open, path)
    return artifact_response(path, chunks)


def artifact_too_large(size: int, limit: int) -> ModelyardError:
    return RequestTooLarge(
        f"Artifact upload of {size} bytes (or more) exceeds the server's limit of {limit} bytes: upload a"
        " smaller file, or start the server with a higher MODELYARD_MAX_ARTIFACT_UPLOAD_BYTES (0 for no limit)."
    )


async def proxy_upload(request: Request) -> Response:
    repo = _proxy_repo(request)
    path = _path_param(request)
    limit = request.app.state.service.settings.max_artifact_upload_bytes or sys.maxsize
    # Spool the body (to disk past 8 MB) so the write to the store is all or nothing.
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL) as spool:
        async for chunk in stream_body(request, limit, artifact_too_large):
            spool.write(chunk)
        spool.seek(0)
        await run_in_threadpool(repo.put, path, spool)
    return JSONResponse({})


async def proxy_delete(request: Request) -> Response:
    repo = _proxy_repo(request)
    path = _path_param(request)
    await run_in_threadpool(repo.delete, path)
    return JSONResponse({})


# Under /api/2.0/mlflow-artifacts.
PROXY_ROUTES = [
    ("/artifacts", ["GET"], proxy_list),
    ("/artifacts/{artifact_path:path}", ["GET"], proxy_download),
    ("/artifacts/{artifact_path:path}", ["PUT"], proxy_upload),
    ("/artifacts/{artifact_path:path}", ["DELETE"], proxy_delete),
]

