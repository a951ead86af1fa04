"""CSRF tokens of the web UI's forms: a signed double-submit cookie.

A page sets the cookie ``modelyard_csrf`` (HttpOnly, SameSite=Strict) to a random
nonce signed with the server's key (setting ``csrf_secret``), and puts the same
token in a hidden ``csrf_token`` field of each of its forms. A form POST is taken
only when the field (or an ``X-CSRF-Token`` header, for scripts) equals the
cookie and the signature holds: another site's page can neither read the cookie
nor mint a token, so it cannot post a form on the user's behalf. The guard's
Origin check (:mod:`modelyard.web.guard`) refuses such posts too; this is the
second lock, for browsers that send no Origin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ...errors import PermissionDenied

COOKIE = "modelyard_csrf"
FIELD = "csrf_token"
HEADER = "x-csrf-token"


def _sign(secret: str, nonce: str) -> str:
    return hmac.new(secret.encode(), nonce.encode(), hashlib.sha256).hexdigest()[:32]


def _valid(secret: str, token: str) -> bool:
    nonce, _, signature = token.partition(".")
    return bool(nonce) and hmac.compare_digest(_sign(secret, nonce), signature)


def token(request: Request) -> str:
    """The request's token: its cookie's when valid, else a new one (set by :func:`set_cookie`)."""
    given = request.cookies.get(COOKIE, "")
    if given and _valid(request.app.state.csrf_secret, given):
        return given
    made: str | None = request.scope.get("modelyard.csrf")
    if made is None:
        nonce = secrets.token_urlsafe(16)
        made = request.scope["modelyard.csrf"] = f"{nonce}.{_sign(request.app.state.csrf_secret, nonce)}"
    return made


def set_cookie(request: Request, response: Response) -> None:
    """Set the cookie on ``response`` if this request made a new token."""
    made = request.scope.get("modelyard.csrf")
    if made is not None:
        response.set_cookie(COOKIE, made, httponly=True, samesite="strict", path="/")


def check(request: Request, form: FormData) -> None:
    """Raise PermissionDenied (403) unless the form (or header) carries the cookie's valid token."""
    cookie = request.cookies.get(COOKIE, "")
    sent = form.get(FIELD) or request.headers.get(HEADER) or ""
    if not (cookie and isinstance(sent, str) and hmac.compare_digest(sent, cookie)
            and _valid(request.app.state.csrf_secret, cookie)):
        raise PermissionDenied(
            "This form's CSRF token is missing or stale: reload the page and submit the form again."
        )
