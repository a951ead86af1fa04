"""The verified-credential cache: a request whose ``Authorization`` header, or whose ``Cookie`` header holding a
session cookie, was verified within ``auth_cache_seconds`` is recognised by that header alone; nothing else is.

Through the whole app in process (every middleware), on SQLite and PostgreSQL: a wrong password is never
answered from the cache, a changed password or a deleted user ends the cached header at once in this process,
and a cookie header is trusted only as the very header that carried a valid session cookie.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelyard.server import create_app, session
from modelyard.settings import Settings
from tests.asgi import call

PASSWORD = "correct horse battery"
SEARCH = "/api/2.0/mlflow/experiments/search"


def _basic(user: str, password: str = PASSWORD) -> tuple[bytes, bytes]:
    return b"authorization", b"Basic " + base64.b64encode(f"{user}:{password}".encode())


def _status(app: Any, *headers: tuple[bytes, bytes]) -> int:
    answer = asyncio.run(call(app, "POST", SEARCH, [json.dumps({"max_results": 5}).encode()],
                              headers=list(headers)))
    assert answer is not None
    return answer[0]


@pytest.fixture
def app(db_uri: str, tmp_path: Path) -> Iterator[Any]:
    settings = Settings(backend_store_uri=db_uri, artifacts_destination=str(tmp_path / "artifacts"),
                        background_workers=False, auth=True, auth_admin_username="root", auth_admin_password=PASSWORD,
                        auth_cache_seconds=600.0)
    app = create_app(settings)
    svc = app.state.service
    svc.auth.ensure_admin()
    svc.auth.create_user("ann", PASSWORD)
    try:
        yield app
    finally:
        app.hot.close()
        svc.close()


def test_basic_and_bearer_headers_are_remembered_until_the_account_changes(app):
    auth = app.state.service.auth
    assert _status(app, _basic("ann")) == 200
    assert _basic("ann")[1] in auth.verified  # remembered by the raw header
    assert _status(app, _basic("ann", "wrong")) == 401  # a wrong password: checked, refused, never remembered
    assert _basic("ann", "wrong")[1] not in auth.verified
    assert _status(app, _basic("ann")) == 200
    auth.update_password("ann", "a new password")  # this process forgets at once
    assert _status(app, _basic("ann")) == 401
    assert _status(app, _basic("ann", "a new password")) == 200
    secret, _ = auth.create_token("ann", "ci")
    bearer = (b"authorization", f"Bearer {secret}".encode())
    assert _status(app, bearer) == 200 and bearer[1] in auth.verified
    auth.delete_user("ann")
    assert _status(app, bearer) == 401
    assert _status(app, _basic("ann", "a new password")) == 401


def test_a_cookie_header_is_trusted_only_as_the_header_that_held_the_session(app):
    svc = app.state.service
    user = svc.auth.get_user("ann")
    cookie = session.make(session.secret_of(app), user.id, user.username, user.password_hash, 1.0)
    with_session = (b"cookie", f"{session.COOKIE}={cookie}".encode())
    other = (b"cookie", b"theme=dark")
    # The session cookie in one Cookie header, other cookies in another: the key is the header with the session.
    assert _status(app, with_session, other) == 200
    assert with_session[1] in svc.auth.sessions and other[1] not in svc.auth.sessions
    assert _status(app, other) == 401  # the other header alone is nobody
    assert _status(app, with_session) == 200
    forged = (b"cookie", f"{session.COOKIE}={cookie[:-2]}00".encode())
    assert _status(app, forged) == 401
    svc.auth.update_password("ann", "a new password")  # ends every session of the account
    assert _status(app, with_session) == 401
