"""Protected aliases: no one — admins included, any client — sets or deletes them; MANAGE lifts the protection."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from modelyard.cli import main
from modelyard.errors import PermissionDenied
from modelyard.server import create_app
from modelyard.service import TrackingService
from modelyard.settings import Settings
from tests.auth.conftest import PASSWORD, basic

PROTECT = "/api/2.0/modelyard/registered-models/alias/protect"
ALIAS = "/api/2.0/mlflow/registered-models/alias"


@pytest.fixture
def http(db_uri: str, tmp_path):
    settings = Settings(backend_store_uri=db_uri, artifacts_destination=str(tmp_path / "artifacts"),
                        background_workers=False, auth=True, auth_admin_username="root",
                        auth_admin_password=PASSWORD, auth_cache_seconds=60.0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        root = basic("root")
        client.post("/api/2.0/mlflow/registered-models/create", json={"name": "churn"}, headers=root)
        for _ in range(2):
            made = client.post("/api/2.0/mlflow/model-versions/create", json={"name": "churn", "source": "s3://bucket/m"},
                               headers=root)
            assert made.status_code == 200, made.text
        client.post(ALIAS, json={"name": "churn", "alias": "champion", "version": "1"}, headers=root)
        client.post("/api/2.0/mlflow/users/create", json={"username": "ed", "password": PASSWORD}, headers=root)
        client.post("/api/3.0/mlflow/users/permissions/grant", headers=root, json={
            "username": "ed", "resource_type": "registered_model", "resource_id": "churn", "permission": "EDIT"})
        yield client


def test_a_protected_alias_is_refused_to_everyone(http):
    root, ed = basic("root"), basic("ed")
    assert http.post(PROTECT, json={"name": "churn", "alias": "champion"}, headers=ed).status_code == 403
    done = http.post(PROTECT, json={"name": "churn", "alias": "champion"}, headers=root)
    assert done.json() == {"name": "churn", "protected_aliases": ["champion"]}
    refused = [
        http.post(ALIAS, json={"name": "churn", "alias": "champion", "version": "2"}, headers=root),
        http.post(ALIAS, json={"name": "churn", "alias": "champion", "version": "2"}, headers=ed),
        http.request("DELETE", ALIAS, json={"name": "churn", "alias": "champion"}, headers=root),
        http.request("DELETE", "/api/2.0/mlflow/model-versions/delete", json={"name": "churn", "version": "1"},
                     headers=root),
        http.post("/api/2.0/mlflow/registered-models/set-tag", headers=root,
                  json={"name": "churn", "key": "modelyard.protected_aliases", "value": ""}),
    ]
    for resp in refused:
        assert resp.status_code == 403, resp.text
        body = resp.json()
        assert body["error_code"] == "PERMISSION_DENIED" and "modelyard.protected_aliases" in body["message"]
    assert "champion" in refused[0].json()["message"] and "protected" in refused[0].json()["message"]
    # The alias stayed; others move freely; the embedded service refuses too.
    got = http.get("/api/2.0/mlflow/registered-models/alias", params={"name": "churn", "alias": "champion"},
                   headers=ed)
    assert got.json()["model_version"]["version"] == "1"
    assert http.post(ALIAS, json={"name": "churn", "alias": "challenger", "version": "2"}, headers=ed).status_code == 200
    with pytest.raises(PermissionDenied):
        http.app.state.service.registry.set_registered_model_alias("churn", "champion", "2")
    # Lifted by a manager, the alias moves again.
    lifted = http.post(PROTECT, json={"name": "churn", "alias": "champion", "protected": False}, headers=root)
    assert lifted.json()["protected_aliases"] == []
    assert http.post(ALIAS, json={"name": "churn", "alias": "champion", "version": "2"}, headers=ed).status_code == 200


def test_the_cli_protects_and_unprotects(tmp_path):
    uri = f"sqlite:///{tmp_path / 'cli.db'}"
    service = TrackingService(Settings(backend_store_uri=uri, background_workers=False))
    service.registry.create_registered_model("churn")
    service.close()
    runner = CliRunner()
    done = runner.invoke(main, ["permissions", "protect-alias", "churn", "champion", "--tracking-uri", uri])
    assert done.exit_code == 0, done.output
    assert "protected aliases champion" in done.output
    service = TrackingService(Settings(backend_store_uri=uri, background_workers=False))
    try:
        assert service.registry.protected_aliases("churn") == ["champion"]
    finally:
        service.close()
    done = runner.invoke(main, ["permissions", "unprotect-alias", "churn", "champion", "--tracking-uri", uri])
    assert done.exit_code == 0 and "protected aliases none" in done.output, done.output
