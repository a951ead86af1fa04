"""The login page of a server with authentication, and logging out (see :mod:`..session`)."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...errors import ModelyardError
from .. import session
from .render import render, service


def _next(value: str | None) -> str:
    """Where to go after signing in: a path of this site only (never another host)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def login_page(request: Request, *, error: str | None = None, status: int = 200, username: str = "") -> Response:
    if not service(request).settings.auth:
        return RedirectResponse("/", status_code=303)
    return render(request, "login.html", status=status, section="login", error=error, username=username,
                  next=_next(request.query_params.get("next")))


def sign_in(request: Request, form: FormData) -> Response:
    """Check the name and password (with the API's back-off), then set the session cookie."""
    svc = service(request)
    if not svc.settings.auth:
        return RedirectResponse("/", status_code=303)
    username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    address = request.client.host if request.client else ""
    try:
        if not username or not password:
            raise ModelyardError("Give your username and password.")
        principal = svc.auth.authenticate_basic(username, password, address)
    except ModelyardError as exc:
        status = exc.status if exc.status in (401, 429) else 400
        return login_page(request, error=exc.message, status=status, username=username)
    user = svc.auth.get_user(principal.username)
    value = session.make(session.secret_of(request.app), user.id, user.username, user.password_hash,
                         svc.settings.auth_session_hours)
    response = RedirectResponse(_next(str(form.get("next", ""))), status_code=303)
    response.set_cookie(session.COOKIE, value, max_age=int(svc.settings.auth_session_hours * 3600), httponly=True,
                        samesite="lax", path="/", secure=request.url.scheme == "https")
    return response


def sign_out(request: Request, form: FormData) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(session.COOKIE, path="/", httponly=True, samesite="lax")
    return response
