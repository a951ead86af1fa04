"""Groups: a grant to a group applies to its members; a member's own grant wins; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from modelyard.cli import main
from modelyard.server import create_app
from modelyard.settings import Settings
from tests.auth.conftest import PASSWORD, basic

EXT = "/api/2.0/modelyard/groups"


@pytest.fixture
def http(db_uri: str, tmp_path):
    settings = Settings(backend_store_uri=db_uri, artifacts_destination=str(tmp_path / "artifacts"),
                        background_workers=False, auth=True, auth_admin_username="root",
                        auth_admin_password=PASSWORD, auth_default_permission="NO_PERMISSIONS",
                        auth_cache_seconds=0.0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        root = basic("root")
        for name in ("ana", "bo"):
            made = client.post("/api/2.0/mlflow/users/create", json={"username": name, "password": PASSWORD},
                               headers=root)
            assert made.status_code == 200, made.text
        yield client


def test_a_group_grant_applies_to_its_members(http):
    root, ana, bo = basic("root"), basic("ana"), basic("bo")
    get = "/api/2.0/mlflow/experiments/get?experiment_id=0"
    assert http.get(get, headers=ana).status_code == 403
    assert http.post(f"{EXT}/create", json={"group": "ml"}, headers=ana).status_code == 403  # admins only
    assert http.post(f"{EXT}/create", json={"group": "ml"}, headers=root).status_code == 200
    assert http.post(f"{EXT}/create", json={"group": "ml"}, headers=root).json()["error_code"] == \
        "RESOURCE_ALREADY_EXISTS"
    assert http.post(f"{EXT}/members/add", json={"group": "ml", "username": "ana"}, headers=root).status_code == 200
    grant = {"group": "ml", "resource_type": "experiment", "resource_id": "0", "permission": "EDIT"}
    assert http.post(f"{EXT}/permissions/grant", json=grant, headers=ana).status_code == 403  # not its manager
    assert http.post(f"{EXT}/permissions/grant", json=grant, headers=root).status_code == 200
    assert http.get(get, headers=ana).status_code == 200
    assert http.get(get, headers=bo).status_code == 403  # not a member
    # A member's own grant wins over the group's.
    own = {"username": "ana", "resource_type": "experiment", "resource_id": "0", "permission": "NO_PERMISSIONS"}
    assert http.post("/api/3.0/mlflow/users/permissions/grant", json=own, headers=root).status_code == 200
    assert http.get(get, headers=ana).status_code == 403
    assert http.post("/api/3.0/mlflow/users/permissions/revoke", json=own, headers=root).status_code == 200
    assert http.get(get, headers=ana).status_code == 200
    listed = http.get(f"{EXT}/list", headers=root).json()
    assert listed == {"groups": [{"name": "ml", "members": ["ana"]}]}
    # Out of the group, or the group's grant revoked: gone.
    assert http.post(f"{EXT}/members/remove", json={"group": "ml", "username": "ana"}, headers=root).status_code == 200
    assert http.get(get, headers=ana).status_code == 403
    http.post(f"{EXT}/members/add", json={"group": "ml", "username": "ana"}, headers=root)
    assert http.post(f"{EXT}/permissions/revoke", json=grant, headers=root).status_code == 200
    assert http.get(get, headers=ana).status_code == 403
    entries = http.get("/api/2.0/modelyard/auth/audit", headers=root).json()["entries"]
    assert {"grant_group_permission", "revoke_group_permission"} <= {e["action"] for e in entries}
    missing = http.post(f"{EXT}/members/add", json={"group": "nope", "username": "ana"}, headers=root)
    assert missing.status_code == 404 and "nope" in missing.json()["message"]
    assert http.post(f"{EXT}/delete", json={"group": "ml"}, headers=root).status_code == 200


def test_groups_from_the_cli(tmp_path):
    uri = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()

    def run(*args: str) -> str:
        done = runner.invoke(main, [*args, "--tracking-uri", uri])
        assert done.exit_code == 0, done.output
        return done.output

    run("users", "create", "ana", "--password", PASSWORD)
    run("groups", "create", "ml")
    run("groups", "add", "ml", "ana")
    assert "ana" in run("groups", "list")
    assert "EDIT on experiment 0" in run("groups", "grant", "ml", "experiment", "0", "EDIT")
    listed = run("permissions", "list", "experiment", "0", "--json")
    assert '"kind": "group"' in listed and '"name": "ml"' in listed and '"permission": "EDIT"' in listed
    assert "revoked" in run("groups", "revoke", "ml", "experiment", "0")
    run("groups", "remove", "ml", "ana")
    run("groups", "delete", "ml")


def test_owners_see_every_grant_on_what_they_manage(http):
    """A manager lists the users' and groups' grants on their resource; others, with READ or EDIT, may not."""
    root, ana, bo = basic("root"), basic("ana"), basic("bo")
    made = http.post("/api/2.0/mlflow/experiments/create", json={"name": "anas"}, headers=ana)
    assert made.status_code == 200, made.text
    exp = made.json()["experiment_id"]
    grant = {"username": "bo", "resource_type": "experiment", "resource_id": exp, "permission": "EDIT"}
    assert http.post("/api/3.0/mlflow/users/permissions/grant", json=grant, headers=ana).status_code == 200
    assert http.post(f"{EXT}/create", json={"group": "viewers"}, headers=root).status_code == 200
    group_grant = {"group": "viewers", "resource_type": "experiment", "resource_id": exp, "permission": "READ"}
    assert http.post(f"{EXT}/permissions/grant", json=group_grant, headers=root).status_code == 200
    path = "/api/2.0/modelyard/permissions/list"
    listed = http.get(path, params={"resource_type": "experiment", "resource_id": exp}, headers=ana)
    assert listed.status_code == 200, listed.text
    assert listed.json()["permissions"] == [
        {"kind": "user", "name": "ana", "permission": "MANAGE"},  # the creator
        {"kind": "user", "name": "bo", "permission": "EDIT"},
        {"kind": "group", "name": "viewers", "permission": "READ"},
    ]
    denied = http.get(path, params={"resource_type": "experiment", "resource_id": exp}, headers=bo)
    assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
    assert http.get(path, params={"resource_type": "experiment", "resource_id": exp},
                    headers=root).json()["permissions"][0]["name"] == "ana"
    bad = http.get(path, params={"resource_type": "run", "resource_id": exp}, headers=root)
    assert bad.status_code == 400 and "resource_type" in bad.json()["message"]


def test_grants_follow_a_renamed_model_and_go_with_a_deleted_one(http):
    """A model made later under an old name inherits nothing: grants are keyed by name, so they move on rename and
    go on delete (users' and groups' alike)."""
    root, ana, bo = basic("root"), basic("ana"), basic("bo")
    rm = "/api/2.0/mlflow/registered-models"
    assert http.post(f"{rm}/create", json={"name": "m1"}, headers=ana).status_code == 200
    grant = {"username": "bo", "resource_type": "registered_model", "resource_id": "m1", "permission": "READ"}
    assert http.post("/api/3.0/mlflow/users/permissions/grant", json=grant, headers=ana).status_code == 200
    http.post(f"{EXT}/create", json={"group": "viewers"}, headers=root)
    group_grant = {"group": "viewers", "resource_type": "registered_model", "resource_id": "m1", "permission": "READ"}
    assert http.post(f"{EXT}/permissions/grant", json=group_grant, headers=root).status_code == 200
    assert http.post(f"{rm}/rename", json={"name": "m1", "new_name": "m2"}, headers=ana).status_code == 200
    assert http.get(f"{rm}/get", params={"name": "m2"}, headers=bo).status_code == 200
    listed = http.get("/api/2.0/modelyard/permissions/list", params={"resource_type": "registered_model",
                                                                      "resource_id": "m2"}, headers=ana).json()
    assert [(p["kind"], p["name"]) for p in listed["permissions"]] == [("user", "ana"), ("user", "bo"),
                                                                       ("group", "viewers")]
    assert http.post(f"{rm}/create", json={"name": "m1"}, headers=root).status_code == 200
    for who in (ana, bo):
        assert http.get(f"{rm}/get", params={"name": "m1"}, headers=who).status_code == 403
    assert http.request("DELETE", f"{rm}/delete", json={"name": "m2"}, headers=ana).status_code == 200
    assert http.post(f"{rm}/create", json={"name": "m2"}, headers=root).status_code == 200
    for who in (ana, bo):
        assert http.get(f"{rm}/get", params={"name": "m2"}, headers=who).status_code == 403
    left = http.get("/api/2.0/modelyard/permissions/list", params={"resource_type": "registered_model",
                                                                    "resource_id": "m2"}, headers=root).json()
    assert left["permissions"] == []
