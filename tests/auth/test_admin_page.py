"""The admin page: accounts, groups, tokens, grants and the audit trail; admins only; CSRF on its forms."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from starlette.testclient import TestClient

from modelyard.server import create_app
from modelyard.settings import Settings
from tests.auth.conftest import PASSWORD, basic

SECRET = "admin page csrf secret"


def _csrf() -> str:
    nonce = "admin-nonce"
    return f"{nonce}.{hmac.new(SECRET.encode(), nonce.encode(), hashlib.sha256).hexdigest()[:32]}"


@pytest.fixture(scope="module")
def http(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("admin")
    settings = Settings(backend_store_uri=f"sqlite:///{tmp / 'admin.db'}", artifacts_destination=str(tmp / "a"),
                        background_workers=False, auth=True, auth_admin_username="root", auth_admin_password=PASSWORD,
                        auth_cache_seconds=60.0, csrf_secret=SECRET)
    with TestClient(create_app(settings), raise_server_exceptions=False, follow_redirects=False) as client:
        client.cookies["modelyard_csrf"] = _csrf()
        yield client


def _post(http: TestClient, path: str, user: str = "root", **data: str):
    return http.post(path, data={"csrf_token": _csrf(), **data}, headers=basic(user))


def test_admins_manage_accounts_and_grants_from_the_page(http):
    made = _post(http, "/admin/users", username="ana", password=PASSWORD)
    assert made.status_code == 303 and made.headers["location"] == "/admin"
    assert _post(http, "/admin/grants", who="user", name="ana", resource_type="experiment", resource_id="0",
                 level="EDIT").status_code == 303
    token = http.post("/api/2.0/modelyard/tokens/create", json={"name": "laptop"}, headers=basic("ana"))
    assert token.status_code == 200, token.text
    page = http.get("/admin", headers=basic("root"))
    assert page.status_code == 200
    assert 'href="/admin" aria-current="page"' in page.text  # the admin's nav shows the page
    assert "ana" in page.text and "laptop" in page.text and "experiment 0" in page.text and "EDIT" in page.text
    assert "grant_permission" in page.text  # the audit trail, with who did it
    token_id = token.json()["info"]["id"]
    assert _post(http, "/admin/tokens/revoke", username="ana", token_id=str(token_id)).status_code == 303
    assert _post(http, "/admin/grants/revoke", who="user", name="ana", resource_type="experiment",
                 resource_id="0").status_code == 303
    after = http.get("/admin", headers=basic("root")).text
    assert "revoked" in after and "revoke_permission" in after
    bad = _post(http, "/admin/grants", who="user", name="nobody-here", resource_type="experiment", resource_id="0",
                level="READ")
    assert bad.status_code == 400 and 'role="alert"' in bad.text and "nobody-here" in bad.text


def test_only_admins_and_only_with_the_csrf_token(http):
    _post(http, "/admin/users", username="bo", password=PASSWORD)
    assert http.get("/admin", headers=basic("bo")).status_code == 403
    assert 'href="/admin"' not in http.get("/models", headers=basic("bo")).text
    assert _post(http, "/admin/users", user="bo", username="mallory", password=PASSWORD).status_code == 403
    no_token = http.post("/admin/users", data={"username": "mallory", "password": PASSWORD}, headers=basic("root"))
    assert no_token.status_code == 403
    assert "mallory" not in http.get("/admin", headers=basic("root")).text


def test_scheduled_runs_report_as_the_configured_account(tmp_path, caplog):
    """With --auth the scheduler gives each run it starts a token of MODELYARD_PIPELINE_RUN_AS (else it warns)."""
    from modelyard.server.workers.scheduler import Scheduler
    from modelyard.service import TrackingService

    settings = Settings(backend_store_uri=f"sqlite:///{tmp_path / 'sched.db'}", artifacts_destination=str(tmp_path),
                        background_workers=False, auth=True, pipeline_run_as="runner")
    svc = TrackingService(settings)
    try:
        svc.auth.create_user("runner", None, kind="service")
        env = Scheduler(svc, launcher=lambda args: None, tracking_uri="http://127.0.0.1:1").credentials()
        assert set(env) == {"MODELYARD_TRACKING_TOKEN"}
        assert svc.auth.authenticate_token(env["MODELYARD_TRACKING_TOKEN"]).username == "runner"
        assert [t.name for t in svc.auth.list_tokens("runner")] == ["scheduled pipeline run"]
        svc.settings = settings.with_(pipeline_run_as="")
        assert Scheduler(svc, launcher=lambda args: None, tracking_uri="http://127.0.0.1:1").credentials() == {}
        assert "MODELYARD_PIPELINE_RUN_AS" in caplog.text
    finally:
        svc.close()
