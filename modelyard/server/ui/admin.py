"""The admin page: accounts, groups, tokens, grants and the audit trail of a server with ``--auth``.

Admins only (``MANAGE`` on the server); every form carries its CSRF token (``render.action``) and
goes through the same service calls as the API and the CLI, so the audit trail names who did it.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ...errors import InvalidParameterValue, ModelyardError
from ..auth import principal_of
from .render import done, inline_status, render, service

AUDIT_SHOWN = 100
KINDS = ("experiment", "registered_model", "workspace")
LEVELS = ("READ", "EDIT", "MANAGE", "NO_PERMISSIONS")


def admin_page(request: Request, *, error: str | None = None, notice: str | None = None,
               status: int = 200) -> Response:
    svc = service(request)
    if principal_of(request) is None:
        return render(request, "admin.html", section="admin", auth_off=True)
    users = svc.auth.list_users()
    tokens: dict[str, list[Any]] = {u.username: svc.auth.list_tokens(u.username) for u in users}
    return render(request, "admin.html", status=status, section="admin", auth_off=False, users=users, tokens=tokens,
                  groups=svc.auth.list_groups(), grants=svc.auth.store.all_grants(),
                  audit=svc.auth.store.audit(AUDIT_SHOWN, 0, newest_first=True), kinds=KINDS, levels=LEVELS, error=error, notice=notice)


def _form(form: FormData, *names: str) -> list[str]:
    return [str(form.get(name, "")).strip() for name in names]


def _then(request: Request, work: Any) -> Response:
    """Run ``work``; back to the page, or the page with the error inline."""
    try:
        work()
    except ModelyardError as exc:
        return admin_page(request, error=exc.message, status=inline_status(request))
    return done(request, "/admin")


def create_user(request: Request, form: FormData) -> Response:
    username, password = _form(form, "username", "password")
    kind = "service" if form.get("service") else "user"
    return _then(request, lambda: service(request).auth.create_user(
        username, password or None, is_admin=bool(form.get("admin")), kind=kind))


def grant(request: Request, form: FormData) -> Response:
    who, name, kind, rid, level = _form(form, "who", "name", "resource_type", "resource_id", "level")
    auth = service(request).auth
    if who == "group":
        return _then(request, lambda: auth.grant_group(name, kind, rid, level))
    return _then(request, lambda: auth.grant(name, kind, rid, level))


def revoke(request: Request, form: FormData) -> Response:
    who, name, kind, rid = _form(form, "who", "name", "resource_type", "resource_id")
    auth = service(request).auth
    if who == "group":
        return _then(request, lambda: auth.grant_group(name, kind, rid, None))
    return _then(request, lambda: auth.revoke(name, kind, rid))


def revoke_token(request: Request, form: FormData) -> Response:
    username, token_id = _form(form, "username", "token_id")

    def work() -> None:
        if not token_id.isdigit():
            raise InvalidParameterValue(f"Invalid token_id {token_id!r}: give the number of one of the tokens listed.")
        service(request).auth.revoke_token(username, int(token_id))

    return _then(request, work)
