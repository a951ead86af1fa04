"""The web UI's login page and session cookie; the audit trail of auth events."""

from __future__ import annotations

import base64
import re

import pytest
from starlette.testclient import TestClient

from modelyard.errors import Unauthenticated
from modelyard.server import create_app
from modelyard.settings import Settings
from tests.auth.conftest import PASSWORD, basic

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def http(tmp_path):
    settings = Settings(backend_store_uri=f"sqlite:///{tmp_path / 'login.db'}",
                        artifacts_destination=str(tmp_path / "artifacts"), background_workers=False, auth=True,
                        auth_admin_username="root", auth_admin_password=PASSWORD, auth_cache_seconds=0.0)
    with TestClient(create_app(settings), raise_server_exceptions=False, follow_redirects=False) as client:
        made = client.post("/api/2.0/mlflow/users/create", json={"username": "ed", "password": PASSWORD},
                           headers=basic("root"))
        assert made.status_code == 200, made.text
        yield client


def _csrf(http: TestClient) -> str:
    page = http.get("/login", headers=HTML)
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def _sign_in(http: TestClient, password: str = PASSWORD, next_url: str = "/models", **extra: str):
    return http.post("/login", data={"csrf_token": _csrf(http), "username": "ed", "password": password,
                                     "next": next_url, **extra})


def test_a_browser_is_sent_to_the_login_page_and_signs_in(http):
    first = http.get("/models?q=a", headers=HTML)
    assert first.status_code == 303 and first.headers["location"] == "/login?next=%2Fmodels%3Fq%3Da"
    assert http.get("/api/2.0/mlflow/experiments/search", headers={"Accept": "application/json"}).status_code == 401

    wrong = _sign_in(http, "wrong password")
    assert wrong.status_code == 401 and "Incorrect username or password." in wrong.text
    assert "modelyard_session" not in http.cookies

    done = _sign_in(http)
    assert done.status_code == 303 and done.headers["location"] == "/models"
    cookie = done.headers["set-cookie"]
    assert "modelyard_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = http.get("/models", headers=HTML)
    assert page.status_code == 200 and "Signed in as <strong>ed</strong>" in page.text
    assert http.get("/api/2.0/mlflow/experiments/search").status_code == 200  # the cookie works like Basic

    out = http.post("/logout", data={"csrf_token": _csrf(http)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert http.get("/models", headers=HTML).status_code == 303


def test_the_login_form_needs_its_csrf_token_and_stays_on_this_site(http):
    refused = http.post("/login", data={"username": "ed", "password": PASSWORD})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert _sign_in(http, next_url="//evil.example/x").headers["location"] == "/"


def test_a_forged_or_stale_cookie_is_refused(http):
    assert _sign_in(http).status_code == 303
    value = http.cookies["modelyard_session"]
    body, _, signature = value.partition(".")
    forged = base64.urlsafe_b64encode(
        base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).replace(b":ed", b":root")).decode().rstrip("=")
    http.cookies.set("modelyard_session", f"{forged}.{signature}")
    assert http.get("/api/2.0/mlflow/users/list").status_code == 401
    http.cookies.set("modelyard_session", value)
    assert http.get("/api/2.0/mlflow/users/current").json()["user"]["username"] == "ed"
    # A new password ends the sessions made with the old one.
    changed = http.patch("/api/2.0/mlflow/users/update-password", json={"username": "ed", "password": "a new one!"},
                         headers=basic("root"))
    assert changed.status_code == 200, changed.text
    assert http.get("/api/2.0/mlflow/users/current").status_code == 401


def test_auth_events_go_into_the_audit_trail(http):
    root = basic("root")
    http.post("/api/2.0/mlflow/experiments/create", json={"name": "e"}, headers=root)
    grant = {"username": "ed", "resource_type": "experiment", "resource_id": "1", "permission": "EDIT"}
    assert http.post("/api/3.0/mlflow/users/permissions/grant", json=grant, headers=root).status_code == 200
    assert http.post("/api/3.0/mlflow/users/permissions/revoke", json=grant, headers=root).status_code == 200
    assert http.post("/api/2.0/modelyard/tokens/create", json={"name": "laptop"}, headers=basic("ed")).status_code == 200
    assert http.get("/api/2.0/mlflow/users/current", headers=basic("ed", "guess")).status_code == 401
    forged = {"Authorization": "Bearer my_forgedtokenvalue-not-a-real-one"}
    assert http.get("/api/2.0/mlflow/users/current", headers=forged).status_code == 401
    assert http.get("/api/2.0/modelyard/auth/audit", headers=basic("ed")).status_code == 403
    entries = http.get("/api/2.0/modelyard/auth/audit", headers=root).json()["entries"]
    seen = [(e["action"], e.get("user_id"), e.get("key"), e.get("old_value"), e.get("new_value")) for e in entries]
    assert ("grant_permission", "root", "ed on experiment 1", None, "EDIT") in seen
    assert ("revoke_permission", "root", "ed on experiment 1", "EDIT", None) in seen
    assert [s for s in seen if s[0] == "create_token" and s[1] == "ed" and "'laptop'" in (s[4] or "")]
    assert [s for s in seen if s[0] == "login_failure" and s[2] == "ed"]
    refused = [s for s in seen if s[0] == "login_failure" and s[2] == "token my_forgedt..."]
    assert len(refused) == 1 and "invalid, expired or revoked" in refused[0][4]
    assert "guess" not in str(entries) and "not-a-real-one" not in str(entries)


def test_a_changed_password_is_checked_again_though_the_old_one_was_verified(http):
    """Credentials verified once are not hashed again when the cache expires, only while the hash is the same."""
    auth = http.app.state.service.auth
    assert auth.authenticate_basic("ed", PASSWORD, "10.0.0.9").username == "ed"
    assert auth.authenticate_basic("ed", PASSWORD, "10.0.0.9").username == "ed"  # the cache is 0 s: verified again
    auth.update_password("ed", "a brand new password")
    with pytest.raises(Unauthenticated):
        auth.authenticate_basic("ed", PASSWORD, "10.0.0.9")
    assert auth.authenticate_basic("ed", "a brand new password", "10.0.0.9").username == "ed"
