"""Artifact tree and previews: text, JSON, YAML, CSV, images, HTML (sandboxed), MLmodel."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import mimetypes
import posixpath
from dataclasses import dataclass, field
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import Response

from ...artifacts import ArtifactRepository, safe_relpath
from ...entities import FileInfo, Run
from ...errors import PermissionDenied, ResourceDoesNotExist
from ...service import TrackingService
from ..routes.artifacts import content_disposition
from .render import render_fragment, service

MAX_PREVIEW_BYTES = 1024 * 1024
MAX_CSV_ROWS = 500
MAX_RAW_BYTES = 64 * 1024 * 1024
IMAGE = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg"}
HTML = {".html", ".htm"}
CSV = {".csv": ",", ".tsv": "\t"}
JSON = {".json", ".ipynb"}
YAML = {".yaml", ".yml", "mlmodel"}
# Raw files are served as an opaque origin: an HTML report or an SVG cannot script this site.
RAW_HEADERS = {"Content-Security-Policy": "sandbox allow-scripts", "X-Content-Type-Options": "nosniff"}


@dataclass
class Entry:
    name: str
    path: str
    is_dir: bool
    size: int | None
    dom_id: str = field(default="")


@dataclass
class Preview:
    path: str
    kind: str  # text, json, yaml, csv, image, html, model, dir, binary, error
    size: int | None = None
    text: str = ""
    rows: list[list[str]] = field(default_factory=list)
    truncated: bool = False
    model: dict[str, Any] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)


def dom_id(path: str) -> str:
    return "a-" + hashlib.sha1(path.encode()).hexdigest()[:12]


def _repo(svc: TrackingService, run: Run) -> ArtifactRepository:
    return svc.artifacts.repository(run.info.artifact_uri)


def _entries(files: list[FileInfo]) -> list[Entry]:
    files = sorted(files, key=lambda f: (not f.is_dir, f.path))
    return [Entry(posixpath.basename(f.path), f.path, f.is_dir, f.file_size, dom_id(f.path)) for f in files]


def listing(svc: TrackingService, run: Run, path: str) -> list[Entry]:
    try:
        return _entries(_repo(svc, run).list(safe_relpath(path)))
    except (ResourceDoesNotExist, PermissionDenied):  # nothing to show, or nothing the server may show
        return []


def _read(repo: ArtifactRepository, path: str, limit: int) -> tuple[bytes, bool]:
    buf = bytearray()
    for chunk in repo.open(path):
        buf += chunk
        if len(buf) > limit:
            return bytes(buf[:limit]), True
    return bytes(buf), False


def _ext(path: str) -> str:
    base = posixpath.basename(path).lower()
    return "mlmodel" if base == "mlmodel" else posixpath.splitext(base)[1]


def _model(repo: ArtifactRepository, folder: str) -> dict[str, Any]:
    """Flavors, signature and requirements of the model in ``folder`` (which holds an MLmodel file)."""
    join = (lambda name: posixpath.join(folder, name)) if folder else (lambda name: name)
    data, _ = _read(repo, join("MLmodel"), MAX_PREVIEW_BYTES)
    try:
        meta = yaml.safe_load(data.decode("utf-8", "replace")) or {}
    except yaml.YAMLError as exc:
        return {"error": f"MLmodel is not valid YAML: {exc}"}
    signature: dict[str, list[dict[str, Any]]] = {}
    for part in ("inputs", "outputs", "params"):
        raw = (meta.get("signature") or {}).get(part)
        try:
            signature[part] = json.loads(raw) if isinstance(raw, str) else list(raw or [])
        except json.JSONDecodeError:
            signature[part] = [{"name": "(unreadable)", "type": str(raw)}]
    requirements = ""
    if repo.is_file(join("requirements.txt")):
        requirements = _read(repo, join("requirements.txt"), MAX_PREVIEW_BYTES)[0].decode("utf-8", "replace")
    return {
        "flavors": sorted((meta.get("flavors") or {}).keys()), "signature": signature,
        "requirements": requirements, "model_uuid": meta.get("model_uuid"), "created": meta.get("utc_time_created"),
    }


def preview(svc: TrackingService, run: Run, raw_path: str) -> Preview:
    path = safe_relpath(raw_path)
    repo = _repo(svc, run)
    if not repo.is_file(path):
        entries = _entries(repo.list(path)) if path else []
        if not entries:
            return Preview(path, "error", text=f"No artifact at {path!r}.")
        if any(e.name == "MLmodel" and not e.is_dir for e in entries):
            return Preview(path, "model", model=_model(repo, path), entries=entries)
        return Preview(path, "dir", entries=entries)
    ext = _ext(path)
    if ext in IMAGE:
        return Preview(path, "image")
    if ext in HTML:
        return Preview(path, "html")
    data, truncated = _read(repo, path, MAX_PREVIEW_BYTES)
    if b"\x00" in data[:8192]:
        return Preview(path, "binary", size=len(data), truncated=truncated)
    text = data.decode("utf-8", "replace")
    if ext == "mlmodel":
        folder = posixpath.dirname(path)
        return Preview(path, "model", text=text, model=_model(repo, folder))
    if ext in CSV:
        reader = csv.reader(io.StringIO(text), delimiter=CSV[ext])
        rows = []
        for i, row in enumerate(reader):
            if i > MAX_CSV_ROWS:
                truncated = True
                break
            rows.append(row)
        return Preview(path, "csv", rows=rows, truncated=truncated)
    if ext in JSON and not truncated:
        try:
            return Preview(path, "json", text=json.dumps(json.loads(text), indent=2, ensure_ascii=False))
        except json.JSONDecodeError:
            pass
    return Preview(path, "yaml" if ext in YAML else "text", text=text, truncated=truncated)


def tree(request: Request) -> Response:
    """The children of one directory, for the lazily expanded tree."""
    svc = service(request)
    run = svc.runs.get(request.path_params["run_id"])
    path = request.query_params.get("path", "")
    return render_fragment(request, "artifact_tree.html", run=run, entries=listing(svc, run, path))


def preview_fragment(request: Request) -> Response:
    svc = service(request)
    run = svc.runs.get(request.path_params["run_id"])
    return render_fragment(request, "artifact_preview.html", run=run,
                           preview=preview(svc, run, request.query_params.get("path", "")))


def raw(request: Request) -> Response:
    """The bytes of one artifact (up to 64 MB), sandboxed; ``?download=1`` as an attachment."""
    svc = service(request)
    run = svc.runs.get(request.path_params["run_id"])
    path = safe_relpath(request.query_params.get("path", ""))
    repo = _repo(svc, run)
    if not path or not repo.is_file(path):
        raise ResourceDoesNotExist(f"Artifact {path!r} does not exist.")
    data, _ = _read(repo, path, MAX_RAW_BYTES)
    media = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if media.startswith("text/") or media in ("application/json", "image/svg+xml"):
        media += "; charset=utf-8"
    headers = dict(RAW_HEADERS)
    if request.query_params.get("download"):
        headers["Content-Disposition"] = content_disposition(path)
    return Response(data, media_type=media, headers=headers)
