"""Artifacts: ``/artifacts/list``, the ``mlflow-artifacts`` proxy (upload, download, list, delete) and the
file routes MLflow's web UI calls (``get-artifact``, ``model-versions/get-artifact``, ``upload-artifact``).

Every download is an attachment (``Content-Disposition``, RFC 6266 with an RFC 5987
``filename*`` for names beyond ASCII), as MLflow's server sends them.
"""

from __future__ import annotations

import posixpath
import sys
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import quote

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ...api import schemas as s
from ...artifacts import ArtifactRepository, safe_relpath
from ...errors import (
    EndpointNotFound,
    InvalidParameterValue,
    ModelyardError,
    RequestTooLarge,
    ResourceDoesNotExist,
)
from ...service import TrackingService
from ...service.caller import workspace
from ...service.limits import missing_value
from ..auth import require, require_artifact_path
from ..operations import request_workspace
from ..protocol import (
    JSONResponse,
    accepts,
    artifact_response,
    decode_query,
    stream_body,
)

_SPOOL = 8 * 1024 * 1024
S = TypeVar("S", bound=msgspec.Struct)
# RFC 7230 token characters: a file name made only of these needs no quotes.
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def content_disposition(path: str) -> str:
    """``attachment; filename=...`` for the last name of ``path``; ``filename*=UTF-8''...`` beyond ASCII."""
    name = posixpath.basename(path) or "download"
    printable = "".join(c for c in name if c.isprintable())
    try:
        printable.encode("ascii")
    except UnicodeEncodeError:
        fallback = unicodedata.normalize("NFKD", printable).encode("ascii", "ignore").decode("ascii") or "download"
        return f"attachment; filename={_quoted(fallback)}; filename*=UTF-8''{quote(name, safe='!#$&+-.^_`|~')}"
    return f"attachment; filename={_quoted(printable)}"


def _quoted(name: str) -> str:
    if name and set(name) <= _TOKEN:
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def download_response(path: str, chunks: Iterator[bytes]) -> Response:
    """An artifact's bytes, streamed as an attachment with a content type that cannot script this site."""
    response = artifact_response(path, chunks)
    response.headers["Content-Disposition"] = content_disposition(path)
    return response


def send_file(repo: ArtifactRepository, path: str) -> Response:
    """The download of file ``path`` of ``repo``; RESOURCE_DOES_NOT_EXIST if it is not a file."""
    if not path or not repo.is_file(path):
        raise ResourceDoesNotExist(f"Artifact {path!r} does not exist.")
    return download_response(path, repo.open(path))


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


async def list_run_artifacts_endpoint(request: Request) -> Response:
    req = decode_query(request, s.ListArtifacts)
    await run_in_threadpool(require, request, "READ", "run", req.id)
    return JSONResponse(await run_in_threadpool(list_run_artifacts, request.app.state.service, req))


ROUTES = [
    ("/artifacts/list", ["GET"], accepts(s.ListArtifacts, name="list_run_artifacts")(list_run_artifacts_endpoint)),
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
    await run_in_threadpool(require_artifact_path, request, "READ", path)
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
    await run_in_threadpool(require_artifact_path, request, "READ", path)
    return await run_in_threadpool(send_file, repo, path)


def artifact_too_large(size: int, limit: int) -> ModelyardError:
    return RequestTooLarge(
        f"Artifact upload of {size} bytes (or more) exceeds the server's limit of {limit} bytes: upload a"
        " smaller file, or start the server with a higher MODELYARD_MAX_ARTIFACT_UPLOAD_BYTES (0 for no limit)."
    )


async def put_body(request: Request, repo: ArtifactRepository, path: str, *, empty_ok: bool = True) -> None:
    """Write the request's body to ``path`` of ``repo``, all or nothing."""
    limit = request.app.state.service.settings.max_artifact_upload_bytes or sys.maxsize
    # Spool the body (to disk past 8 MB) so the write to the store is all or nothing.
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL) as spool:
        async for chunk in stream_body(request, limit, artifact_too_large):
            spool.write(chunk)
        if not empty_ok and not spool.tell():
            raise InvalidParameterValue("Request must specify data: the body is the file to upload.")
        spool.seek(0)
        await run_in_threadpool(repo.put, path, spool)


async def proxy_upload(request: Request) -> Response:
    repo, path = _proxy_repo(request), _path_param(request)
    await run_in_threadpool(require_artifact_path, request, "EDIT", path)
    await put_body(request, repo, path)
    return JSONResponse({})


async def proxy_delete(request: Request) -> Response:
    repo = _proxy_repo(request)
    path = _path_param(request)
    await run_in_threadpool(require_artifact_path, request, "EDIT", path)
    await run_in_threadpool(repo.delete, path)
    return JSONResponse({})


# Under /api/2.0/mlflow-artifacts.
PROXY_ROUTES = [
    ("/artifacts", ["GET"], proxy_list),
    ("/artifacts/{artifact_path:path}", ["GET"], proxy_download),
    ("/artifacts/{artifact_path:path}", ["PUT"], proxy_upload),
    ("/artifacts/{artifact_path:path}", ["DELETE"], proxy_delete),
]


class GetArtifact(s.RunId):
    path: str | None = None


class GetModelVersionArtifact(msgspec.Struct):
    name: str | None = None
    version: str | None = None
    path: str | None = None


def _required(value: str | None, field: str) -> str:
    if not value:
        raise InvalidParameterValue(missing_value(field))
    return value


def get_artifact(svc: TrackingService, req: GetArtifact) -> Response:
    """A run's artifact file (MLflow's ``get-artifact``), by ``run_id`` (or ``run_uuid``) and ``path``."""
    path = safe_relpath(_required(req.path, "path"))
    run = svc.runs.get(_required(req.id, "run_id"))
    return send_file(svc.artifacts.repository(run.info.artifact_uri), path)


def get_model_version_artifact(svc: TrackingService, req: GetModelVersionArtifact) -> Response:
    """A file of a model version (MLflow's ``model-versions/get-artifact``), by ``name``, ``version``, ``path``."""
    path = safe_relpath(_required(req.path, "path"))
    uri = svc.registry.get_model_version_download_uri(_required(req.name, "name"), _required(req.version, "version"))
    repo = svc.artifacts.source_repository(uri, lambda run_id: svc.runs.get(run_id).info.artifact_uri)
    return send_file(repo, path)


def file_endpoint(schema: type[S], fn: Callable[[TrackingService, S], Response], kind: str,
                  field: str) -> Callable[[Request], Any]:
    """A GET endpoint answering a file: the query decoded into ``schema``, READ on the ``kind`` its
    ``field`` names checked, ``fn`` run in the thread pool; names resolved in the request's workspace
    (``X-MLFLOW-WORKSPACE``)."""

    async def handle(request: Request) -> Response:
        req = decode_query(request, schema)
        token = workspace.set(request_workspace(request))  # a model's name is of the request's workspace
        try:
            await run_in_threadpool(require, request, "READ", kind, getattr(req, field))
            return await run_in_threadpool(fn, request.app.state.service, req)
        finally:
            workspace.reset(token)

    handle.__name__ = fn.__name__
    return handle


async def upload_artifact(request: Request) -> Response:
    """MLflow's ``upload-artifact``: the body is the file, ``run_uuid`` and ``path`` are query parameters."""
    svc: TrackingService = request.app.state.service
    req = decode_query(request, GetArtifact)
    path = safe_relpath(_required(req.path, "path"))
    await run_in_threadpool(require, request, "EDIT", "run", req.id)
    run = await run_in_threadpool(svc.runs.get, _required(req.id, "run_uuid"))
    repo = await run_in_threadpool(svc.artifacts.repository, run.info.artifact_uri)
    await put_body(request, repo, path, empty_ok=False)
    return JSONResponse({})


# At these exact paths, as MLflow's server serves them (its web UI calls them).
_FILE_ENDPOINTS = (
    ("/get-artifact", file_endpoint(GetArtifact, get_artifact, "run", "id")),
    ("/model-versions/get-artifact", file_endpoint(GetModelVersionArtifact, get_model_version_artifact,
                                                   "registered_model", "name")),
)
ABSOLUTE_ROUTES = [
    (f"{prefix}{path}", ["GET"], endpoint)
    for prefix in ("", "/ajax-api/2.0/mlflow")
    for path, endpoint in _FILE_ENDPOINTS
] + [("/ajax-api/2.0/mlflow/upload-artifact", ["POST"], upload_artifact)]
