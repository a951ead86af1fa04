"""Workspaces as MLflow 3.17 has them: the official client's workspace calls against a live server with
--auth, experiments and registered models kept in their workspace, grants on a whole workspace, aliases
protected across one."""

from __future__ import annotations

import httpx
import pytest

from tests.auth.conftest import PASSWORD, run_mlflow

_mlflow = run_mlflow


@pytest.fixture
def server(workspaces_server):
    return workspaces_server


ADMIN = """
import mlflow
made = mlflow.create_workspace("staging", description="before prod")
assert made.name == "staging" and made.description == "before prod", made
assert mlflow.get_workspace("staging").description == "before prod"
assert mlflow.update_workspace("staging", description="pre-prod").description == "pre-prod"
assert {w.name for w in mlflow.list_workspaces()} == {"default", "staging"}
mlflow.create_workspace("scratch")
mlflow.delete_workspace("scratch")
assert {w.name for w in mlflow.list_workspaces()} == {"default", "staging"}
mlflow.set_workspace("staging")
mlflow.set_experiment("staging-exp")
with mlflow.start_run():
    mlflow.log_metric("m", 1.0)
mlflow.MlflowClient().create_registered_model("staging-model")
assert [e.name for e in mlflow.search_experiments()] == ["staging-exp"]
assert [m.name for m in mlflow.search_registered_models()] == ["staging-model"]
mlflow.set_workspace(None)
names = [e.name for e in mlflow.search_experiments()]
assert "staging-exp" not in names and "Default" in names, names
assert mlflow.search_registered_models() == []
print("ok")
"""


def test_the_official_client_manages_and_uses_workspaces(server):
    live, root = server
    done = _mlflow(live, ADMIN, "root")
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-3000:]
    # Non-admins may not create workspaces, nor make anything in one they hold no grant on.
    refused = _mlflow(live, "import mlflow; mlflow.create_workspace('mine')", "dev")
    assert refused.returncode != 0 and "PERMISSION_DENIED" in refused.stderr
    sneaky = httpx.post(f"{live.url}/api/2.0/mlflow/experiments/create", json={"name": "sneaky"},
                        headers={"X-MLFLOW-WORKSPACE": "staging"}, auth=("dev", PASSWORD))
    assert sneaky.status_code == 403
    missing = root.post("/api/2.0/mlflow/experiments/create", json={"name": "lost"},
                        headers={"X-MLFLOW-WORKSPACE": "nowhere"})
    assert missing.status_code == 404 and "nowhere" in missing.json()["message"]
    bad = root.get("/api/3.0/mlflow/workspaces/Not_Valid")
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    busy = root.delete("/api/3.0/mlflow/workspaces/staging")
    assert busy.status_code == 400 and "SET_DEFAULT" in busy.json()["message"]


def test_a_grant_on_a_workspace_covers_what_is_in_it(server):
    live, root = server
    staging = {"X-MLFLOW-WORKSPACE": "staging"}
    root.post("/api/3.0/mlflow/workspaces", json={"name": "staging"})  # made by the other test, or now
    exp = root.post("/api/2.0/mlflow/experiments/create", json={"name": "granted-exp"}, headers=staging)
    assert exp.status_code == 200, exp.text
    exp_id = exp.json()["experiment_id"]
    ops = httpx.Client(base_url=live.url, auth=("ops", PASSWORD), headers=staging)
    assert ops.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": exp_id}).status_code == 403
    assert ops.get("/api/3.0/mlflow/workspaces").json().get("workspaces", []) == []
    grant = {"username": "ops", "resource_type": "workspace", "resource_id": "staging", "permission": "EDIT"}
    assert root.post("/api/3.0/mlflow/users/permissions/grant", json=grant).status_code == 200
    assert ops.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": exp_id}).status_code == 200
    assert [w["name"] for w in ops.get("/api/3.0/mlflow/workspaces").json()["workspaces"]] == ["staging"]
    found = ops.post("/api/2.0/mlflow/experiments/search", json={"max_results": 1}).json()
    assert len(found["experiments"]) == 1  # filtered in SQL through the workspace grant: the page is full
    made = ops.post("/api/2.0/mlflow/experiments/create", json={"name": "ops-exp"})
    assert made.status_code == 200, made.text
    # A grant of its own on one experiment wins over the workspace's.
    deny = {"username": "ops", "resource_type": "experiment", "resource_id": exp_id, "permission": "NO_PERMISSIONS"}
    assert root.post("/api/3.0/mlflow/users/permissions/grant", json=deny).status_code == 200
    assert ops.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": exp_id}).status_code == 403
    names = [e["name"] for e in ops.post("/api/2.0/mlflow/experiments/search", json={}).json()["experiments"]]
    assert "granted-exp" not in names and "ops-exp" in names


def test_an_alias_protected_across_a_workspace(server):
    live, root = server
    root.post("/api/3.0/mlflow/workspaces", json={"name": "prod"})
    prod = {"X-MLFLOW-WORKSPACE": "prod"}
    assert root.post("/api/2.0/mlflow/registered-models/create", json={"name": "prod-model"},
                     headers=prod).status_code == 200
    run = root.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]
    version = root.post("/api/2.0/mlflow/model-versions/create", headers=prod,
                        json={"name": "prod-model", "source": run["artifact_uri"], "run_id": run["run_id"]})
    assert version.status_code == 200, version.text
    protect = {"workspace": "prod", "alias": "champion"}
    assert httpx.post(f"{live.url}/api/2.0/modelyard/workspaces/alias/protect", json=protect,
                      auth=("dev", PASSWORD)).status_code == 403
    done = root.post("/api/2.0/modelyard/workspaces/alias/protect", json=protect)
    assert done.status_code == 200 and done.json()["protected_aliases"] == ["champion"]
    moved = root.post("/api/2.0/mlflow/registered-models/alias", headers=prod,
                      json={"name": "prod-model", "alias": "champion", "version": "1"})
    assert moved.status_code == 403 and "workspace 'prod'" in moved.json()["message"]
    assert root.post("/api/2.0/mlflow/registered-models/alias", headers=prod,
                     json={"name": "prod-model", "alias": "challenger", "version": "1"}).status_code == 200
    # Names resolve in the request's workspace: without its header, prod's model is not there.
    assert root.post("/api/2.0/mlflow/registered-models/alias", json={"name": "prod-model", "alias": "challenger",
                                                                      "version": "1"}).status_code == 404
    assert root.get("/api/3.0/mlflow/workspaces/prod").json()["workspace"]["protected_aliases"] == ["champion"]


APP_CLIENT = """
from mlflow.exceptions import RestException
from mlflow.server import get_app_client

auth = get_app_client("basic-auth", tracking_uri=TRACKING_URI)
user = auth.create_user("carol", "carol's long password")
assert user.username == "carol" and not user.is_admin
assert auth.get_user("carol").username == "carol"
auth.update_user_admin("carol", True)
assert auth.get_user("carol").is_admin
auth.update_user_admin("carol", False)
auth.update_user_password("carol", "a new long password")
auth.grant_user_permission("carol", "experiment", "0", "EDIT")
got = auth.get_user_permission("carol", "experiment", "0")
assert got.permission == "EDIT" and got.allowed, (got.permission, got.allowed)
auth.grant_user_permission("carol", "workspace", "default", "READ")
assert auth.get_user_permission("carol", "workspace", "default").permission == "READ"
auth.revoke_user_permission("carol", "experiment", "0")
assert auth.get_user_permission("carol", "experiment", "0").permission == "READ"  # the workspace's grant now
try:
    auth.create_user("carol", "again")
except RestException as exc:
    assert exc.error_code == "RESOURCE_ALREADY_EXISTS", exc.error_code
else:
    raise AssertionError("a second carol was made")
auth.delete_user("carol")
try:
    auth.get_user("carol")
except RestException as exc:
    assert exc.error_code == "RESOURCE_DOES_NOT_EXIST", exc.error_code
else:
    raise AssertionError("carol is still there")
print("ok")
"""


def test_mlflow_basic_auth_app_client(server):
    """mlflow.server.get_app_client("basic-auth") (needs the test extra's mlflow-skinny[auth]) against us."""
    pytest.importorskip("flask")
    live, _ = server
    done = _mlflow(live, APP_CLIENT.replace("TRACKING_URI", repr(live.url)), "root")
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-3000:]
    refused = _mlflow(live, APP_CLIENT.replace("TRACKING_URI", repr(live.url)), "dev")
    assert refused.returncode != 0 and "PERMISSION_DENIED" in refused.stderr


def test_workspaces_without_auth_and_bad_headers(tmp_path):
    from starlette.testclient import TestClient

    from modelyard.server import create_app
    from modelyard.settings import Settings

    settings = Settings(backend_store_uri=f"sqlite:///{tmp_path / 'plain.db'}", artifacts_destination=str(tmp_path),
                        background_workers=False)
    with TestClient(create_app(settings), raise_server_exceptions=False) as http:
        made = http.post("/api/3.0/mlflow/workspaces", json={"name": "dev"})
        assert made.status_code == 201 and made.json()["workspace"]["name"] == "dev"
        dev = {"X-MLFLOW-WORKSPACE": "dev"}
        assert http.post("/api/2.0/mlflow/experiments/create", json={"name": "in-dev"}, headers=dev).status_code == 200
        names = lambda **kw: [e["name"] for e in  # noqa: E731
                              http.post("/api/2.0/mlflow/experiments/search", json={}, **kw).json()["experiments"]]
        assert names(headers=dev) == ["in-dev"] and "in-dev" not in names()
        bad = http.post("/api/2.0/mlflow/experiments/search", json={}, headers={"X-MLFLOW-WORKSPACE": "Bad Name!"})
        assert bad.status_code == 400 and "workspace name" in bad.json()["message"]
        gone = http.delete("/api/3.0/mlflow/workspaces/dev", params={"mode": "SET_DEFAULT"})
        assert gone.status_code == 204 and gone.content == b""
        assert "in-dev" in names()  # moved to the default workspace
        assert http.get("/api/3.0/mlflow/workspaces/dev").status_code == 404
        assert http.delete("/api/3.0/mlflow/workspaces/default").status_code == 400
