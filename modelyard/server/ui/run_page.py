"""The run page: overview, description, params, metrics (live), tags, datasets, model versions."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ...entities import Run, RunStatus, RunTag
from ...errors import InvalidParameterValue, ModelyardError, ResourceDoesNotExist
from ...service import TrackingService
from ..auth import readable
from . import artifacts
from .render import done, render, render_fragment, service

NOTE_TAG = "mlflow.note.content"
SYSTEM_PREFIX = "system/"
POLL_SECONDS = 5
SYSTEM_TAG_PREFIX = "mlflow."
MAX_CHILDREN = 100
MAX_LINKED_TAGS = 20
MAX_LOGGED_MODELS = 100
HISTORY_TAG = "mlflow.log-model.history"
_RUN_ID = re.compile(r"[0-9a-f]{32}")


def _split_metrics(run: Run) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    items = sorted(run.data.metrics.items())
    return ([(k, v) for k, v in items if not k.startswith(SYSTEM_PREFIX)],
            [(k, v) for k, v in items if k.startswith(SYSTEM_PREFIX)])


def _children(svc: TrackingService, run: Run) -> list[Run]:
    """Runs whose ``mlflow.parentRunId`` tag names this run (the first ``MAX_CHILDREN``, oldest first)."""
    return svc.runs.search([run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'",
                           max_results=MAX_CHILDREN, order_by=["attributes.start_time ASC"]).items


def _run_links(svc: TrackingService, tags: dict[str, str]) -> set[str]:
    """Tag values that are ids of existing runs (``best_run_id``, ``mlflow.parentRunId``…): shown as links."""
    candidates = list(dict.fromkeys(v for v in tags.values() if _RUN_ID.fullmatch(v)))[:MAX_LINKED_TAGS]
    found = set()
    for rid in candidates:
        try:
            svc.runs.get(rid)
        except ResourceDoesNotExist:
            continue
        found.add(rid)
    return found


def _context(request: Request, run: Run, **extra: Any) -> dict[str, Any]:
    svc = service(request)
    metrics, system = _split_metrics(run)
    experiment = svc.experiments.get(run.info.experiment_id)
    versions = svc.registry.search_model_versions(f"run_id = '{run.info.run_id}'", max_results=100).items
    allowed = readable(request, "registered_model", {v.name for v in versions})
    versions = [v for v in versions if v.name in allowed]
    parent_id = run.data.tags.get("mlflow.parentRunId")
    tags = sorted(run.data.tags.items())
    return dict(
        section="experiments", run=run, experiment=experiment, metrics=metrics, system=system,
        live=run.info.status == RunStatus.RUNNING, poll=POLL_SECONDS, versions=versions, parent_id=parent_id,
        note=run.data.tags.get(NOTE_TAG, ""), run_links=_run_links(svc, run.data.tags),
        user_tags=[(k, v) for k, v in tags if not k.startswith(SYSTEM_TAG_PREFIX)],
        system_tags=[(k, v) for k, v in tags if k.startswith(SYSTEM_TAG_PREFIX)], **extra,
    )


def _logged_models(svc: TrackingService, run: Run) -> list[dict[str, Any]]:
    """Models logged from this run: MLflow 3's logged models (``source_run_id``) and the entries of
    the ``mlflow.log-model.history`` tag (MLflow 2's ``log_model``), one row per artifact path."""
    out: list[dict[str, Any]] = []
    try:
        found = svc.logged_models.search([run.info.experiment_id], f"source_run_id = '{run.info.run_id}'",
                                         max_results=MAX_LOGGED_MODELS).items
    except ModelyardError:
        found = []
    for m in found:
        out.append({"name": m.name, "model_id": m.model_id, "type": m.model_type, "status": m.status,
                    "created": m.creation_timestamp, "path": None, "flavors": []})
    try:
        history = json.loads(run.data.tags.get(HISTORY_TAG) or "[]")
    except ValueError:
        history = []
    seen = {m["name"] for m in out}
    for entry in history if isinstance(history, list) else []:
        if not isinstance(entry, dict) or not entry.get("artifact_path") or entry["artifact_path"] in seen:
            continue
        seen.add(entry["artifact_path"])
        flavors = entry.get("flavors")
        out.append({"name": entry["artifact_path"], "model_id": entry.get("model_id"), "type": None,
                    "status": None, "created": None, "path": entry["artifact_path"],
                    "flavors": sorted(k for k in flavors if k != "python_function") if isinstance(flavors, dict) else []})
    return out[:MAX_LOGGED_MODELS]


def run_page(request: Request, *, status: int = 200, **extra: Any) -> Response:
    svc = service(request)
    run = svc.runs.get(request.path_params["run_id"])
    path = request.query_params.get("artifact", "")
    tree = artifacts.listing(svc, run, "")
    preview = artifacts.preview(svc, run, path) if path else None
    return render(request, "run.html", status=status, tree=tree, artifact=path, preview=preview,
                  children=_children(svc, run), max_children=MAX_CHILDREN, logged_models=_logged_models(svc, run),
                  **_context(request, run, **extra))


def run_metrics(request: Request) -> Response:
    """The metrics section alone: what the page polls while the run is active."""
    run = service(request).runs.get(request.path_params["run_id"])
    return render_fragment(request, "run_metrics.html", **_context(request, run))


def _fragment_or_page(request: Request, template: str, run_id: str, **extra: Any) -> Response:
    """htmx gets the section back (with its inline error); a plain form POST gets the page or a redirect."""
    failed = any(key.endswith("error") and value for key, value in extra.items())
    if request.headers.get("HX-Request") == "true":
        run = service(request).runs.get(run_id)
        return render_fragment(request, template, **_context(request, run, **extra))
    if failed:
        return run_page(request, status=400, **extra)
    return done(request, f"/runs/{run_id}")


def set_description(request: Request, form: FormData) -> Response:
    run_id = request.path_params["run_id"]
    try:
        service(request).runs.set_tag(run_id, RunTag(NOTE_TAG, str(form.get("description", ""))))
    except ModelyardError as exc:
        return _fragment_or_page(request, "run_description.html", run_id, error=exc.message)
    return _fragment_or_page(request, "run_description.html", run_id, saved=True)


def add_tag(request: Request, form: FormData) -> Response:
    run_id = request.path_params["run_id"]
    key, value = str(form.get("key", "")).strip(), str(form.get("value", ""))
    try:
        if not key:
            raise InvalidParameterValue("A tag needs a key.")
        service(request).runs.set_tag(run_id, RunTag(key, value))
    except ModelyardError as exc:
        return _fragment_or_page(request, "run_tags.html", run_id, tag_error=exc.message, tag_form={"key": key, "value": value})
    return _fragment_or_page(request, "run_tags.html", run_id)


def delete_tag(request: Request, form: FormData) -> Response:
    run_id = request.path_params["run_id"]
    try:
        service(request).runs.delete_tag(run_id, str(form.get("key", "")))
    except ModelyardError as exc:
        return _fragment_or_page(request, "run_tags.html", run_id, tag_error=exc.message)
    return _fragment_or_page(request, "run_tags.html", run_id)

