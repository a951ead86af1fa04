"""The web UI's session cookie: who signed in on the login page, signed by the server.

The cookie ``modelyard_session`` (HttpOnly, SameSite=Lax, Path=/) holds
``base64url(user_id:username:expires:fingerprint).signature``: the signature is an HMAC-SHA256
under a key derived from ``auth_session_secret`` (or, when empty, the key of the CSRF tokens), so
only this server (and the processes sharing its key) can mint one; ``expires`` (Unix seconds)
bounds it to ``auth_session_hours``; ``fingerprint`` (from the account's password hash) ends every
session of a user whose password changes. :class:`..auth.AuthMiddleware` takes a valid cookie like
Basic credentials; the account is read again (through the auth cache), so a deleted user or a
demoted admin loses the session within ``auth_cache_seconds``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from typing import Any, NamedTuple

from ..service.auth import fingerprint

COOKIE = "modelyard_session"


class Session(NamedTuple):
    """What a valid session cookie says: who, the mark of their password, and when it ends (Unix seconds)."""

    user_id: int
    username: str
    mark: str
    expires: int


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"modelyard session cookie", hashlib.sha256).digest()


def secret_of(app: Any) -> str:
    """The secret the cookies of ``app`` are signed with."""
    settings = app.state.service.settings
    return str(settings.auth_session_secret or app.state.csrf_secret)


def make(secret: str, user_id: int, username: str, password_hash: str | None, hours: float) -> str:
    """A new session cookie's value."""
    expires = int(time.time() + hours * 3600)
    payload = f"{user_id}:{expires}:{fingerprint(password_hash)}:{username}".encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    signature = hmac.new(_key(secret), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{signature}"


def read(secret: str, value: str) -> Session | None:
    """What a valid, unexpired cookie value says; None for anything else."""
    body, _, signature = value.partition(".")
    if not body or not signature:
        return None
    expected = hmac.new(_key(secret), body.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return None
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")
        user_id, expires, mark, username = payload.split(":", 3)
        if int(expires) <= time.time():
            return None
        return Session(int(user_id), username, mark, int(expires))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def session_cookie(scope: Any) -> tuple[bytes, str]:
    """The ``Cookie`` header of an ASGI request that holds the session cookie, and the cookie's value
    (``(b"", "")`` without one)."""
    for name, raw in scope["headers"]:
        if name == b"cookie":
            for part in raw.decode("latin-1").split(";"):
                key, _, value = part.strip().partition("=")
                if key == COOKIE:
                    return raw, str(value)
    return b"", ""

