"""Multipart uploads through the ``mlflow-artifacts`` proxy, for any artifact destination.

MLflow's client asks ``mpu/create`` for one upload URL per part, PUTs the parts
(in parallel), then calls ``mpu/complete`` (or ``mpu/abort``). MLflow itself
supports this only for cloud stores that presign URLs; here the part URLs point
back at this server, which keeps the parts under a staging prefix of the
destination (so every server process sees them) and joins them on completion.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ...artifacts import ArtifactRepository, safe_relpath
from ...errors import InvalidParameterValue, ModelyardError, RequestTooLarge
from ...service.limits import missing_value
from ..auth import require_artifact_path
from ..protocol import JSONResponse, decode_body, read_body, stream_body
from .artifacts import _SPOOL, _proxy_repo

STAGING = ".modelyard-uploads"
MAX_PARTS = 10_000
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


class CreateUpload(msgspec.Struct):
    path: str | None = None
    num_parts: int | None = 1


class UploadPart(msgspec.Struct):
    part_number: int
    etag: str | None = None
    url: str | None = None


class CompleteUpload(msgspec.Struct):
    path: str | None = None
    upload_id: str | None = None
    parts: list[UploadPart] = []


def _folder(request: Request) -> str:
    return safe_relpath(request.path_params.get("artifact_path", ""), "artifact_path")


async def _may_write(request: Request, folder: str) -> None:
    """EDIT on the experiment the upload's folder lies under (see :func:`..auth.require_artifact_path`)."""
    await run_in_threadpool(require_artifact_path, request, "EDIT", folder)


def _target(request: Request, local_path: str | None) -> str:
    if not local_path:
        raise InvalidParameterValue(missing_value("path"))
    folder = _folder(request)
    name = posixpath.basename(local_path.replace("\\", "/"))
    if not name:
        raise InvalidParameterValue(f"Invalid value {local_path!r} for parameter 'path': it names no file.")
    return posixpath.join(folder, name) if folder else name


def _upload_id(value: str | None) -> str:
    if not value or not _UPLOAD_ID.match(value):
        raise InvalidParameterValue(f"Invalid upload_id {value!r}: use the upload_id that mpu/create returned.")
    return value


async def _body(request: Request, schema: type[Any]) -> Any:
    svc = request.app.state.service
    limit = svc.settings.max_request_bytes
    return decode_body(await read_body(request, limit), schema, limit)


def part_too_large(size: int, limit: int) -> ModelyardError:
    return RequestTooLarge(
        f"Upload part of {size} bytes (or more) exceeds the server's limit of {limit} bytes per part: split the"
        " file into more, smaller parts (MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE), or start the server with a higher"
        " MODELYARD_MAX_UPLOAD_PART_BYTES."
    )


async def create(request: Request) -> Response:
    repo = _proxy_repo(request)
    await _may_write(request, _folder(request))
    req = await _body(request, CreateUpload)
    _target(request, req.path)
    num_parts = req.num_parts or 1
    if not 1 <= num_parts <= MAX_PARTS:
        raise InvalidParameterValue(f"Invalid value {num_parts} for parameter 'num_parts': use 1 to {MAX_PARTS}.")
    upload_id = uuid.uuid4().hex
    base = str(request.base_url).rstrip("/")
    prefix = request.url.path.split("/mpu/create", 1)[0]
    # The marker holds the part count and the destination folder, whose permission each part needs.
    marker = f"{num_parts}\n{_folder(request)}".encode()
    await run_in_threadpool(repo.put, f"{STAGING}/{upload_id}/parts", io.BytesIO(marker))
    credentials = [
        {"url": f"{base}{prefix}/mpu/part/{upload_id}/{n}", "part_number": n, "headers": {}}
        for n in range(1, num_parts + 1)
    ]
    return JSONResponse({"upload_id": upload_id, "credentials": credentials})


async def upload_part(request: Request) -> Response:
    repo = _proxy_repo(request)
    upload_id = _upload_id(request.path_params["upload_id"])
    number = int(request.path_params["part_number"])
    marker = f"{STAGING}/{upload_id}/parts"
    if not await run_in_threadpool(repo.is_file, marker):
        raise InvalidParameterValue(f"Unknown upload_id {upload_id!r}: create the upload with mpu/create first.")
    count, _, folder = (await run_in_threadpool(repo.read_bytes, marker)).decode().partition("\n")
    await _may_write(request, folder)
    num_parts = int(count or 0)
    if not 1 <= number <= num_parts:
        raise InvalidParameterValue(f"Invalid part number {number}: this upload has parts 1 to {num_parts}.")
    limit = request.app.state.service.settings.max_upload_part_bytes
    digest = hashlib.md5(usedforsecurity=False)
    # Spooled (to disk past 8 MB) and cut off past the limit: a part is never held whole in memory.
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL) as spool:
        async for chunk in stream_body(request, limit, part_too_large):
            digest.update(chunk)
            spool.write(chunk)
        spool.seek(0)
        await run_in_threadpool(repo.put, f"{STAGING}/{upload_id}/{number:05d}", spool)
    return Response(status_code=200, headers={"ETag": f'"{digest.hexdigest()}"'})


async def complete(request: Request) -> Response:
    repo = _proxy_repo(request)
    await _may_write(request, _folder(request))
    req = await _body(request, CompleteUpload)
    target = _target(request, req.path)
    upload_id = _upload_id(req.upload_id)
    numbers = sorted(p.part_number for p in req.parts)
    if not numbers or numbers != list(range(1, len(numbers) + 1)):
        raise InvalidParameterValue("'parts' must list part numbers 1..N, each once.")
    for n in numbers:
        if not await run_in_threadpool(repo.is_file, f"{STAGING}/{upload_id}/{n:05d}"):
            raise InvalidParameterValue(f"Part {n} of upload {upload_id} was never uploaded.")
    await run_in_threadpool(_join, repo, upload_id, numbers, target)
    return JSONResponse({})


async def abort(request: Request) -> Response:
    repo = _proxy_repo(request)
    await _may_write(request, _folder(request))
    req = await _body(request, CompleteUpload)
    _target(request, req.path)
    upload_id = _upload_id(req.upload_id)
    await run_in_threadpool(_discard, repo, upload_id)
    return JSONResponse({})


def _join(repo: ArtifactRepository, upload_id: str, numbers: list[int], target: str) -> None:
    def chunks() -> Iterator[bytes]:
        for n in numbers:
            yield from repo.open(f"{STAGING}/{upload_id}/{n:05d}")

    repo.put(target, _Chunks(chunks()))
    _discard(repo, upload_id)


def _discard(repo: ArtifactRepository, upload_id: str) -> None:
    if repo.list(f"{STAGING}/{upload_id}"):
        repo.delete(f"{STAGING}/{upload_id}")


class _Chunks:
    """A read-only binary stream over an iterator of byte chunks (no re-copying of the rest)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._current = memoryview(b"")

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while size < 0 or len(out) < size:
            if not self._current:
                try:
                    self._current = memoryview(next(self._chunks))
                except StopIteration:
                    break
                continue
            take = len(self._current) if size < 0 else min(size - len(out), len(self._current))
            out += self._current[:take]
            self._current = self._current[take:]
        return bytes(out)


# Under /api/2.0/mlflow-artifacts (and its /ajax-api twin).
PROXY_ROUTES = [
    ("/mpu/create/{artifact_path:path}", ["POST"], create),
    ("/mpu/complete/{artifact_path:path}", ["POST"], complete),
    ("/mpu/abort/{artifact_path:path}", ["POST"], abort),
    ("/mpu/part/{upload_id}/{part_number:int}", ["PUT"], upload_part),
]
