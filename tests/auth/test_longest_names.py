"""The longest names fit: a registered model's name of the longest length in a workspace of the longest name is
stored as ``<workspace>:<name>`` by grants, reference profiles, monitors, served requests, promotion policies,
gate runs, transition requests and rollouts, and by the audit trail of a grant on it. PostgreSQL enforces a
VARCHAR's width (SQLite does not), so this runs on both."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from modelyard.server import create_app
from modelyard.service.registry import MAX_MODEL_NAME_LENGTH
from modelyard.service.workspaces import MAX_NAME
from modelyard.settings import Settings
from tests.auth.conftest import PASSWORD, basic

EXT = "/api/2.0/modelyard"
WORKSPACE = "w" * MAX_NAME
MODEL = "m" * MAX_MODEL_NAME_LENGTH
USER = "u" * 255  # the longest user name: in the audit entry of a grant, beside the model's key


@pytest.fixture
def call(db_uri: str, tmp_path):
    settings = Settings(backend_store_uri=db_uri, artifacts_destination=str(tmp_path / "artifacts"),
                        background_workers=False, auth=True, auth_admin_username="root",
                        auth_admin_password=PASSWORD, auth_cache_seconds=600.0, monitoring_min_reference_rows=1)
    with TestClient(create_app(settings)) as http:
        headers = {**basic("root"), "X-MLFLOW-WORKSPACE": WORKSPACE}

        def call(method: str, path: str, body: Any = None, **params: Any) -> dict[str, Any]:
            resp = http.request(method, path, json=body, params=params or None, headers=headers)
            assert resp.status_code < 300, (path, resp.text[:500])
            return resp.json() if resp.content else {}

        yield call


def test_the_longest_model_name_in_the_longest_workspace_is_stored_everywhere(call):
    from modelyard.monitoring import profile

    call("POST", "/api/3.0/mlflow/workspaces", {"name": WORKSPACE})
    call("POST", "/api/2.0/mlflow/registered-models/create", {"name": MODEL})
    exp = call("POST", "/api/2.0/mlflow/experiments/create", {"name": "long"})["experiment_id"]
    run = call("POST", "/api/2.0/mlflow/runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
    for _ in range(2):
        call("POST", "/api/2.0/mlflow/model-versions/create", {"name": MODEL, "source": f"runs:/{run}/model",
                                                               "run_id": run})
    call("POST", "/api/2.0/mlflow/registered-models/alias", {"name": MODEL, "alias": "champion", "version": "1"})
    # Grants on the model, a user's and a group's, and their audit entries.
    call("POST", "/api/2.0/mlflow/users/create", {"username": USER, "password": PASSWORD})
    grant = {"username": USER, "resource_type": "registered_model", "resource_id": MODEL, "permission": "READ"}
    call("POST", "/api/3.0/mlflow/users/permissions/grant", grant)
    call("POST", f"{EXT}/groups/create", {"group": "g" * 255})
    call("POST", f"{EXT}/groups/permissions/grant", {"group": "g" * 255, "resource_type": "registered_model",
                                              "resource_id": MODEL, "permission": "EDIT"})
    # Monitoring: a reference profile, a monitor, served requests.
    reference = profile({"x": [float(i) for i in range(20)]}, min_rows=1)
    call("POST", f"{EXT}/monitoring/references/set", {"model_name": MODEL, "version": "1", "profile": reference})
    call("POST", f"{EXT}/monitoring/monitors/create", {"name": "n" * 128, "model_name": MODEL, "alias": "champion"})
    rows = [{"request_id": f"r-{i}", "model_name": MODEL, "model_version": "1", "inputs": {"x": float(i)},
             "outputs": {"y": 1}} for i in range(3)]
    call("POST", f"{EXT}/inference/requests", {"requests": rows})
    # Promotion: a policy, a transition request, a gate run that starts a rollout.
    call("POST", f"{EXT}/promotion/policies/set", {"name": MODEL, "alias": "champion",
                                                   "policy": {"gates": [{"check": "required_tags", "tags": ["team"]}]}})
    call("POST", "/api/2.0/mlflow/model-versions/set-tag", {"name": MODEL, "version": "2", "key": "team", "value": "a"})
    call("POST", f"{EXT}/promotion/requests/create", {"name": MODEL, "version": "2", "alias": "champion"})
    done = call("POST", f"{EXT}/promotion/promote", {"name": MODEL, "version": "2", "alias": "champion",
                                                    "rollout": {"mode": "canary", "weight": 0.2}})["promotion"]

    # Each read back under the model's own name, in its workspace.
    assert call("GET", "/api/2.0/mlflow/registered-models/get", name=MODEL)["registered_model"]["name"] == MODEL
    granted = call("GET", "/api/3.0/mlflow/users/permissions/get", username=USER, resource_type="registered_model",
                   resource_id=MODEL)
    assert "READ" in str(granted), granted
    assert call("GET", f"{EXT}/monitoring/references/get", model_name=MODEL, version="1")
    assert [m["model_name"] for m in call("GET", f"{EXT}/monitoring/monitors/list")["monitors"]] == [MODEL]
    found = call("GET", f"{EXT}/inference/requests", model_name=MODEL)["requests"]
    assert sorted(r["request_id"] for r in found) == ["r-0", "r-1", "r-2"]
    assert call("GET", f"{EXT}/promotion/policies/get", name=MODEL, alias="champion")["model_name"] == MODEL
    assert [r["model_name"] for r in call("GET", f"{EXT}/promotion/requests/list", name=MODEL)["requests"]] == [MODEL]
    assert call("GET", f"{EXT}/promotion/promotions/get", name=MODEL, promotion_id=str(done["id"]))
    assert [r["model_name"] for r in call("GET", f"{EXT}/promotion/rollouts/list")["rollouts"]] == [MODEL]
    audit = call("GET", f"{EXT}/auth/audit")["entries"]
    assert any(e["action"] == "grant_permission" and e["key"].startswith(USER) and e["key"].endswith(MODEL)
               for e in audit), audit[-3:]
