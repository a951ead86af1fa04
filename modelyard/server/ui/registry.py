"""Registry pages: models, a model, a version (lineage, signature, audit, aliases)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ...entities.registry import ModelVersion, Stage
from ...errors import InvalidParameterValue, ModelyardError, ResourceDoesNotExist
from ...service import TrackingService
from ..auth import readable
from . import artifacts
from .experiments import name_filter
from .markdown import render_markdown
from .render import done, inline_status, render, service

PAGE_SIZE = 50


def models_page(request: Request) -> Response:
    svc = service(request)
    q = request.query_params.get("q", "")
    token = request.query_params.get("page_token") or None
    error, models, next_token = None, [], None
    try:
        found = svc.registry.search_registered_models(name_filter(q) or None, max_results=PAGE_SIZE,
                                                      order_by=["name ASC"], page_token=token)
        models, next_token = found.items, found.next_page_token
        allowed = readable(request, "registered_model", [m.name for m in models])
        models = [m for m in models if m.name in allowed]
    except ModelyardError as exc:
        error = exc.message
    return render(request, "models.html", status=inline_status(request) if error else 200, section="models",
                  models=models, q=q, error=error, next_token=next_token, params={"q": q})


def _versions(svc: TrackingService, name: str) -> list[ModelVersion]:
    clause = f"name = '{name}'" if "'" not in name else f'name = "{name}"'
    return svc.registry.search_model_versions(clause, max_results=1000, order_by=["version_number DESC"]).items


def model_page(request: Request, *, status: int = 200, **extra: Any) -> Response:
    svc = service(request)
    model = svc.registry.get_registered_model(request.path_params["name"])
    return render(request, "model.html", status=status, section="models", model=model,
                  versions=_versions(svc, model.name), markdown=render_markdown, **extra)


def _model_action(request: Request, fn: Callable[[], Any], what: str) -> Response:
    name = request.path_params["name"]
    try:
        fn()
    except ModelyardError as exc:
        return model_page(request, status=inline_status(request), edit_error=f"{what} failed: {exc.message}")
    return done(request, f"/models/{quote(name, safe='')}")


def _tag_key(form: FormData) -> str:
    key = str(form.get("key", "")).strip()
    if not key:
        raise InvalidParameterValue("A tag needs a key: fill in the Key field.")
    return key


def set_model_description(request: Request, form: FormData) -> Response:
    name = request.path_params["name"]
    text = str(form.get("description", ""))
    return _model_action(request, lambda: service(request).registry.update_registered_model(name, text),
                         "Saving the description")


def set_model_tag(request: Request, form: FormData) -> Response:
    name = request.path_params["name"]
    return _model_action(request, lambda: service(request).registry.set_registered_model_tag(
        name, _tag_key(form), str(form.get("value", ""))), "Setting the tag")


def delete_model_tag(request: Request, form: FormData) -> Response:
    name = request.path_params["name"]
    return _model_action(request, lambda: service(request).registry.delete_registered_model_tag(
        name, str(form.get("key", ""))), "Removing the tag")


def set_version_description(request: Request, form: FormData) -> Response:
    name, number = request.path_params["name"], request.path_params["version"]
    text = str(form.get("description", ""))
    return _version_action(request, lambda: service(request).registry.update_model_version(name, number, text),
                           "Saving the description", "edit_error")


def set_version_tag(request: Request, form: FormData) -> Response:
    name, number = request.path_params["name"], request.path_params["version"]
    return _version_action(request, lambda: service(request).registry.set_model_version_tag(
        name, number, _tag_key(form), str(form.get("value", ""))), "Setting the tag", "edit_error")


def delete_version_tag(request: Request, form: FormData) -> Response:
    name, number = request.path_params["name"], request.path_params["version"]
    return _version_action(request, lambda: service(request).registry.delete_model_version_tag(
        name, number, str(form.get("key", ""))), "Removing the tag", "edit_error")


def compare_versions_page(request: Request) -> Response:
    """Two versions of a model side by side: their runs' metrics and params, differences marked."""
    svc = service(request)
    model = svc.registry.get_registered_model(request.path_params["name"])
    chosen = list(dict.fromkeys(v for v in request.query_params.getlist("version") if v))
    if len(chosen) != 2:
        return render(request, "model_compare.html", section="models", model=model, sides=[],
                      versions=_versions(svc, model.name), chosen=chosen)
    sides = []
    for number in chosen:
        mv = svc.registry.get_model_version(model.name, number)
        run = None
        if mv.run_id and readable(request, "run", [mv.run_id]):
            try:
                run = svc.runs.get(mv.run_id)
            except ModelyardError:
                run = None
        sides.append((mv, run))
    rows: dict[str, list[tuple[str, list[Any], bool]]] = {}
    for kind in ("metrics", "params"):
        data = [({} if run is None else getattr(run.data, kind)) for _, run in sides]
        keys = sorted({k for d in data for k in d})
        rows[kind] = [(k, [d.get(k) for d in data], len({repr(d.get(k)) for d in data}) > 1) for k in keys]
    return render(request, "model_compare.html", section="models", model=model, sides=sides, rows=rows,
                  versions=_versions(svc, model.name), chosen=chosen)


def _model_signature(svc: TrackingService, mv: ModelVersion) -> dict[str, Any]:
    """Flavors, signature and requirements from the version's MLmodel, when it can be read."""
    try:
        uri = svc.registry.get_model_version_download_uri(mv.name, mv.version)
        repo = svc.artifacts.source_repository(uri, lambda run_id: svc.runs.get(run_id).info.artifact_uri)
        if not repo.is_file("MLmodel"):
            return {}
        return artifacts._model(repo, "")
    except (ModelyardError, OSError, ValueError):
        return {}


def _version_monitoring(svc: TrackingService, mv: ModelVersion) -> dict[str, Any]:
    """The monitoring tab of a version's page: its reference profile, and per monitor of its model that
    watches it (bound to the version, or to an alias, which may point at it) the scores of its runs on
    this version and the alerts they raised."""
    from .monitors import HISTORY, SHOWN

    monitoring = svc.monitoring
    try:
        profile = monitoring.get_reference(mv.name, mv.version)
    except ResourceDoesNotExist:
        profile = None
    watched = []
    for m in monitoring.list_monitors(mv.name, 100):
        if m.alias is None and m.model_version != mv.version:
            continue
        results = [r for r in monitoring.results(m.name, HISTORY) if r.model_version == mv.version]
        ids = {r.id for r in results}
        alerts = [a for a in monitoring.alerts(m.name, None, 100) if a.result_id in ids]
        keys = [k for k in SHOWN if any(r.metrics.get(k) is not None for r in results)]
        watched.append({"monitor": m, "results": results[:10], "alerts": alerts[:10], "shown": keys})
    return {"profile": profile, "monitors": watched}


def version_page(request: Request, *, status: int = 200, **extra: Any) -> Response:
    svc = service(request)
    name, number = request.path_params["name"], request.path_params["version"]
    mv = svc.registry.get_model_version(name, number)
    model = svc.registry.get_registered_model(name)
    run = experiment = None
    if mv.run_id:
        try:
            run = svc.runs.get(mv.run_id) if readable(request, "run", [mv.run_id]) else None
            experiment = None if run is None else svc.experiments.get(run.info.experiment_id)
        except ModelyardError:
            run = None
    # This version's changes, and alias moves away from it (recorded on the version the alias left).
    audit = [e for e in svc.registry.audit(name).items
             if e.version == mv.version or (e.action.endswith("_alias") and mv.version in (e.old_value, e.new_value))]
    return render(
        request, "model_version.html", status=status, section="models", mv=mv, model=model, run=run,
        experiment=experiment, audit=list(reversed(audit)), model_info=_model_signature(svc, mv),
        stages=Stage.ALL, markdown=render_markdown, monitoring=_version_monitoring(svc, mv), **extra,
    )


def _version_action(request: Request, fn: Any, what: str, shown_as: str = "alias_error") -> Response:
    name, number = request.path_params["name"], request.path_params["version"]
    try:
        fn()
    except ModelyardError as exc:
        return version_page(request, status=inline_status(request), **{shown_as: f"{what} failed: {exc.message}"})
    return done(request, f"/models/{quote(name, safe='')}/versions/{number}")


def set_alias(request: Request, form: FormData) -> Response:
    name, number = request.path_params["name"], request.path_params["version"]
    alias = str(form.get("alias", "")).strip()
    return _version_action(
        request, lambda: service(request).registry.set_registered_model_alias(name, alias, number), "Setting the alias"
    )


def delete_alias(request: Request, form: FormData) -> Response:
    name = request.path_params["name"]
    alias = str(form.get("alias", ""))
    return _version_action(
        request, lambda: service(request).registry.delete_registered_model_alias(name, alias), "Removing the alias"
    )


def set_stage(request: Request, form: FormData) -> Response:
    name, number = request.path_params["name"], request.path_params["version"]
    stage = str(form.get("stage", ""))
    archive = form.get("archive_existing") == "1"
    return _version_action(
        request,
        lambda: service(request).registry.transition_model_version_stage(name, number, stage, archive),
        "Changing the stage",
    )
