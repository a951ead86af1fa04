"""Routes outside the table of operations: artifacts, multipart, bulk ingest and the web UI, per role.

Each route names the level it needs on the guarded experiment (or registered model); every role —
anonymous, no grant (the server's default is NO_PERMISSIONS), READ, EDIT, admin — is sent to it.
"Allowed" means the request got past authentication and authorization; "denied" is a 403.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from starlette.testclient import TestClient

from modelyard.server import create_app
from modelyard.settings import Settings
from tests.auth.conftest import PASSWORD, basic

CSRF_SECRET = "test csrf secret"
ROLES = ("anonymous", "nobody", "READ", "EDIT", "admin")
RANK = {"nobody": 0, "READ": 1, "EDIT": 2, "MANAGE": 3}
DENIED = {"error_code": "PERMISSION_DENIED", "message": "Permission denied."}


def _csrf() -> str:
    nonce = "fixed-nonce"
    return f"{nonce}.{hmac.new(CSRF_SECRET.encode(), nonce.encode(), hashlib.sha256).hexdigest()[:32]}"


def _headers(role: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    return basic("root" if role == "admin" else role.lower())


@pytest.fixture
def world(db_uri: str, tmp_path):
    settings = Settings(backend_store_uri=db_uri, artifacts_destination=str(tmp_path / "artifacts"),
                        background_workers=False, auth=True, auth_admin_username="root",
                        auth_admin_password=PASSWORD, auth_default_permission="NO_PERMISSIONS",
                        auth_cache_seconds=60.0, csrf_secret=CSRF_SECRET)
    with TestClient(create_app(settings), raise_server_exceptions=False) as http:
        admin = basic("root")

        def call(method: str, path: str, body: Any = None) -> dict[str, Any]:
            resp = http.request(method, path, json=body, headers=admin)
            assert resp.status_code == 200, resp.text
            return resp.json()

        exp = call("POST", "/api/2.0/mlflow/experiments/create", {"name": "guarded"})["experiment_id"]
        run = call("POST", "/api/2.0/mlflow/runs/create", {"experiment_id": exp})["run"]["info"]
        root = run["artifact_uri"].split("mlflow-artifacts:/", 1)[1]
        put = http.put(f"/api/2.0/mlflow-artifacts/artifacts/{root}/secret.txt", content=b"top secret",
                       headers=admin)
        assert put.status_code == 200, put.text
        call("POST", "/api/2.0/mlflow/registered-models/create", {"name": "guarded-model"})
        call("POST", "/api/2.0/mlflow/model-versions/create",
             {"name": "guarded-model", "source": run["artifact_uri"], "run_id": run["run_id"]})
        call("POST", "/api/2.0/modelyard/monitoring/monitors/create",
             {"name": "guarded-monitor", "model_name": "guarded-model", "alias": "champion"})
        logged = call("POST", "/api/2.0/mlflow/logged-models", {"experiment_id": exp})["model"]["info"]["model_id"]
        for role in ("nobody", "READ", "EDIT"):
            call("POST", "/api/2.0/mlflow/users/create", {"username": role.lower(), "password": PASSWORD})
            if role != "nobody":
                for kind, rid in (("experiment", exp), ("registered_model", "guarded-model")):
                    call("POST", "/api/3.0/mlflow/users/permissions/grant",
                         {"username": role.lower(), "resource_type": kind, "resource_id": rid, "permission": role})
        yield http, {"exp": exp, "run": run["run_id"], "root": root, "logged": logged}


def _routes(ids: dict[str, str]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(level, method, path, request keywords) of each guarded route; destructive ones last."""
    exp, run, root = ids["exp"], ids["run"], ids["root"]
    form = {"data": {"csrf_token": _csrf(), "key": "k", "value": "v"}}
    return [
        ("READ", "GET", f"/api/2.0/mlflow/artifacts/list?run_id={run}", {}),
        ("READ", "GET", f"/get-artifact?run_id={run}&path=secret.txt", {}),
        ("READ", "GET", f"/ajax-api/2.0/mlflow/get-artifact?run_id={run}&path=secret.txt", {}),
        ("READ", "GET", "/model-versions/get-artifact?name=guarded-model&version=1&path=secret.txt", {}),
        ("READ", "GET", f"/api/2.0/mlflow-artifacts/artifacts?path={root}", {}),
        ("READ", "GET", f"/api/2.0/mlflow-artifacts/artifacts/{root}/secret.txt", {}),
        ("READ", "GET", f"/experiments/{exp}", {}),
        ("READ", "GET", f"/runs/{run}", {}),
        ("READ", "GET", f"/runs/{run}/artifacts/raw?path=secret.txt", {}),
        ("READ", "GET", f"/compare?run={run}", {}),
        ("READ", "GET", f"/ui/series?run={run}&key=loss", {}),
        ("READ", "GET", f"/ui/histories?run={run}&key=loss&key=acc", {}),
        ("READ", "GET", f"/experiments/{exp}/charts", {}),
        ("READ", "GET", f"/metric?key=loss&run={run}", {}),
        ("READ", "GET", "/models/guarded-model", {}),
        ("READ", "GET", "/models/guarded-model/versions/1", {}),
        ("READ", "GET", "/models/guarded-model/compare?version=1&version=1", {}),
        ("READ", "GET", "/monitors/guarded-monitor", {}),
        ("READ", "GET", "/monitors/guarded-monitor/report", {}),
        ("READ", "GET", f"/api/2.0/mlflow/logged-models/{ids['logged']}/artifacts/files?artifact_file_path=MLmodel", {}),
        ("EDIT", "POST", f"/v1/traces?experiment_id={exp}",
         {"content": b"{}", "headers": {"Content-Type": "application/json"}}),
        ("EDIT", "POST", "/v1/traces", {"content": b"{}", "headers": {"Content-Type": "application/json",
                                                                      "x-mlflow-experiment-id": exp,
                                                                      "x-mlflow-run-id": run}}),
        ("EDIT", "POST", f"/ajax-api/2.0/mlflow/upload-artifact?run_uuid={run}&path=up.txt", {"content": b"x"}),
        ("EDIT", "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{root}/put.txt", {"content": b"x"}),
        ("EDIT", "POST", f"/api/2.0/mlflow-artifacts/mpu/create/{root}", {"json": {"path": "big.bin"}}),
        ("EDIT", "POST", "/api/2.0/modelyard/runs/ingest", {"json": {"run_id": run}}),
        ("EDIT", "POST", f"/runs/{run}/tags", form),
        ("EDIT", "POST", f"/experiments/{exp}/charts/layout", {"data": {"csrf_token": _csrf(), "layout": '{"panels": []}'}}),
        ("EDIT", "POST", f"/experiments/{exp}/charts/reset", {"data": {"csrf_token": _csrf()}}),
        ("EDIT", "POST", "/models/guarded-model/versions/1/alias", {"data": {"csrf_token": _csrf(), "alias": "a"}}),
        ("EDIT", "POST", "/models/guarded-model/versions/1/alias/delete", {"data": {"csrf_token": _csrf(), "alias": "a"}}),
        ("EDIT", "POST", "/models/guarded-model/description", {"data": {"csrf_token": _csrf(), "description": "d"}}),
        ("EDIT", "POST", "/models/guarded-model/tags", {"data": {"csrf_token": _csrf(), "key": "k", "value": "v"}}),
        ("EDIT", "POST", "/models/guarded-model/tags/delete", {"data": {"csrf_token": _csrf(), "key": "k"}}),
        ("EDIT", "POST", "/models/guarded-model/versions/1/description", {"data": {"csrf_token": _csrf(), "description": "d"}}),
        ("EDIT", "POST", "/models/guarded-model/versions/1/tags", {"data": {"csrf_token": _csrf(), "key": "k", "value": "v"}}),
        ("EDIT", "POST", "/models/guarded-model/versions/1/tags/delete", {"data": {"csrf_token": _csrf(), "key": "k"}}),
        ("EDIT", "DELETE", f"/api/2.0/mlflow-artifacts/artifacts/{root}/put.txt", {}),
        # As the operations delete_run and restore_run: MANAGE on each run.
        ("MANAGE", "POST", f"/experiments/{exp}/runs/delete", {"data": {"csrf_token": _csrf(), "run": run}}),
        ("MANAGE", "POST", f"/experiments/{exp}/runs/restore", {"data": {"csrf_token": _csrf(), "run": run}}),
        # As the operations set_tag and delete_tag: EDIT on each run.
        ("EDIT", "POST", f"/experiments/{exp}/runs/tag",
         {"data": {"csrf_token": _csrf(), "run": run, "key": "k", "value": "v", "mode": "add"}}),
        ("EDIT", "POST", f"/experiments/{exp}/runs/tag", {"data": {"csrf_token": _csrf(), "run": run, "key": "k", "mode": "remove"}}),
    ]


def test_every_route_for_every_role(world):
    http, ids = world
    wrong = []
    for level, method, path, kw in _routes(ids):
        for role in ROLES:
            extra = {k: v for k, v in kw.items() if k != "headers"}
            headers = {**_headers(role), "Cookie": f"modelyard_csrf={_csrf()}", **kw.get("headers", {})}
            status = http.request(method, path, headers=headers, **extra).status_code
            if role == "anonymous":
                want = "unauthenticated"
            elif role == "admin":
                want = "allowed"
            else:
                want = "allowed" if RANK[role] >= RANK[level] else "denied"
            got = {401: "unauthenticated", 403: "denied"}.get(status, "allowed")
            if got != want or status >= 500:
                wrong.append((method, path, role, want, status))
    assert not wrong, wrong


def test_a_denied_artifact_path_reveals_nothing(world):
    http, ids = world
    root = ids["root"]
    answers = [http.get(f"/api/2.0/mlflow-artifacts/artifacts/{root}/{name}", headers=basic("nobody"))
               for name in ("secret.txt", "no-such-file.txt")]
    answers.append(http.get(f"/api/2.0/mlflow-artifacts/artifacts?path={root}", headers=basic("nobody")))
    answers.append(http.get(f"/get-artifact?run_id={ids['run']}&path=secret.txt", headers=basic("nobody")))
    for resp in answers:
        assert resp.status_code == 403 and resp.json() == DENIED
        assert "top secret" not in resp.text and "secret.txt" not in resp.text
    # Outside any experiment (the proxy's root, another experiment's number): admins only.
    assert http.get("/api/2.0/mlflow-artifacts/artifacts", headers=basic("edit")).status_code == 403
    assert http.get("/api/2.0/mlflow-artifacts/artifacts", headers=basic("root")).status_code == 200
    assert http.get("/api/2.0/mlflow-artifacts/artifacts/999/x.txt", headers=basic("edit")).json() == DENIED


def test_multipart_parts_need_edit_on_the_destination(world):
    http, ids = world
    made = http.post(f"/api/2.0/mlflow-artifacts/mpu/create/{ids['root']}", json={"path": "big.bin", "num_parts": 1},
                     headers=basic("edit"))
    assert made.status_code == 200, made.text
    upload_id = made.json()["upload_id"]
    part = f"/api/2.0/mlflow-artifacts/mpu/part/{upload_id}/1"
    assert http.put(part, content=b"part", headers=basic("read")).json() == DENIED
    assert http.put(part, content=b"part", headers=basic("edit")).status_code == 200
    done = http.post(f"/api/2.0/mlflow-artifacts/mpu/complete/{ids['root']}", headers=basic("edit"),
                     json={"path": "big.bin", "upload_id": upload_id, "parts": [{"part_number": 1}]})
    assert done.status_code == 200, done.text
    got = http.get(f"/api/2.0/mlflow-artifacts/artifacts/{ids['root']}/big.bin", headers=basic("read"))
    assert got.content == b"part"


def test_ui_lists_show_only_what_the_caller_may_read(world):
    http, _ = world
    for user, sees in (("nobody", False), ("read", True), ("root", True)):
        assert ("guarded" in http.get("/", headers=basic(user)).text) is sees, user
        assert ("guarded-model" in http.get("/models", headers=basic(user)).text) is sees, user
        assert ("guarded-monitor" in http.get("/monitors", headers=basic(user)).text) is sees, user


def test_http_triggers_carry_their_own_token_past_the_front_door(world):
    """A trigger's token is not an account's: the route checks it, the middleware lets it through."""
    http, _ = world
    refused = http.post("/api/2.0/modelyard/pipelines/triggers/fire", json={"name": "nope"},
                        headers={"Authorization": "Bearer not-a-trigger-token"})
    assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"


def test_only_admins_choose_an_artifact_location(world):
    """Else a user's experiment could point into another experiment's folder and read it through its runs."""
    http, ids = world
    body = {"name": "sneaky", "artifact_location": f"mlflow-artifacts:/{ids['exp']}"}
    refused = http.post("/api/2.0/mlflow/experiments/create", json=body, headers=basic("edit"))
    assert refused.status_code == 403 and "artifact_location" in refused.json()["message"]
    assert http.post("/api/2.0/mlflow/experiments/create", json={"name": "plain"},
                     headers=basic("edit")).status_code == 200
    assert http.post("/api/2.0/mlflow/experiments/create", json=body, headers=basic("root")).status_code == 200


def test_metrics_are_for_admins_unless_opened(world, tmp_path):
    """/metrics' gauges name monitors and models: with auth, admins only; auth_metrics_open lets anyone scrape."""
    http, _ = world
    assert http.get("/metrics").status_code == 401
    assert http.get("/metrics", headers=basic("read")).json() == DENIED
    assert http.get("/metrics", headers=basic("root")).status_code == 200
    settings = Settings(backend_store_uri=f"sqlite:///{tmp_path / 'open.db'}", artifacts_destination=str(tmp_path),
                        background_workers=False, auth=True, auth_metrics_open=True)
    with TestClient(create_app(settings), raise_server_exceptions=False) as scraper:
        assert scraper.get("/metrics").status_code == 200
        assert scraper.get("/api/2.0/mlflow/experiments/search").status_code == 401
