"""The experiments list: search, create, rename, delete and restore."""

from __future__ import annotations

import re

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ...entities import ViewType
from ...errors import ModelyardError
from ..auth import principal_of, readable
from .render import done, inline_status, render, service

PAGE_SIZE = 100
_VIEWS = {"active": ViewType.ACTIVE_ONLY, "deleted": ViewType.DELETED_ONLY, "all": ViewType.ALL}
_GRAMMAR = re.compile(r"[=<>!]|\b(?:LIKE|ILIKE|IN|IS)\b", re.IGNORECASE)


def name_filter(q: str, attribute: str = "name") -> str:
    """Plain words search the name (case-insensitive); text with an operator is a filter as written."""
    q = q.strip()
    if not q or _GRAMMAR.search(q):
        return q
    for quote in ("'", '"'):
        if quote not in q:
            return f"{attribute} ILIKE {quote}%{q}%{quote}"
    return q

def experiments_page(request: Request, *, error: str | None = None, form: dict[str, str] | None = None,
                     status: int = 200) -> Response:
    svc = service(request)
    q = request.query_params.get("q", "")
    view = request.query_params.get("view", "active")
    token = request.query_params.get("page_token") or None
    search_error = None
    items, next_token = [], None
    try:
        found = svc.experiments.search(
            view_type=_VIEWS.get(view, ViewType.ACTIVE_ONLY), max_results=PAGE_SIZE,
            filter_string=name_filter(q) or None, order_by=["last_update_time DESC"], page_token=token,
        )
        items, next_token = found.items, found.next_page_token
        allowed = readable(request, "experiment", [e.experiment_id for e in items])
        items = [e for e in items if e.experiment_id in allowed]
    except ModelyardError as exc:
        search_error = exc.message
        status = max(status, inline_status(request))
    return render(
        request, "experiments.html", status=status, section="experiments", experiments=items,
        next_token=next_token, q=q, view=view, search_error=search_error, error=error, form=form or {},
        params={"q": q, "view": view if view != "active" else None},
    )


def index(request: Request) -> Response:
    return experiments_page(request)


def create(request: Request, form: FormData) -> Response:
    name = str(form.get("name", "")).strip()
    try:
        experiment_id = service(request).experiments.create(name)
        principal = principal_of(request)
        if principal is not None:
            service(request).auth.creator(principal, "experiment", str(experiment_id))
    except ModelyardError as exc:
        return experiments_page(request, error=exc.message, form={"name": name}, status=inline_status(request))
    return done(request, f"/experiments/{experiment_id}")


def rename(request: Request, form: FormData) -> Response:
    experiment_id = request.path_params["experiment_id"]
    try:
        service(request).experiments.rename(experiment_id, str(form.get("name", "")).strip())
    except ModelyardError as exc:
        return experiments_page(request, error=f"Rename failed: {exc.message}", status=inline_status(request))
    return done(request, str(form.get("next") or "/"))


def delete(request: Request, form: FormData) -> Response:
    try:
        service(request).experiments.delete(request.path_params["experiment_id"])
    except ModelyardError as exc:
        return experiments_page(request, error=f"Delete failed: {exc.message}", status=inline_status(request))
    return done(request, "/")


def restore(request: Request, form: FormData) -> Response:
    try:
        service(request).experiments.restore(request.path_params["experiment_id"])
    except ModelyardError as exc:
        return experiments_page(request, error=f"Restore failed: {exc.message}", status=inline_status(request))
    return done(request, "/?view=deleted")
