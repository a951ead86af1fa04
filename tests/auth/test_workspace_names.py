"""Names unique per workspace, as MLflow 3.17's: the official client with ``mlflow.set_workspace`` makes the same
experiment, registered model, alias and prompt in two workspaces, each resolved in its own (get-by-name,
``models:/`` and ``prompts:/`` URIs, search, grants), on SQLite and PostgreSQL behind ``--auth``."""

from __future__ import annotations

import httpx

from tests.auth.conftest import PASSWORD, each_team_runs, run_mlflow

MAKE = """
import mlflow
from mlflow import MlflowClient

mlflow.set_workspace(WORKSPACE)
mlflow.set_experiment("shared")
with mlflow.start_run() as run:
    mlflow.log_param("team", WORKSPACE)
client = MlflowClient()
client.create_registered_model("churn")
client.create_model_version("churn", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
client.set_registered_model_alias("churn", "champion", "1")
mlflow.genai.register_prompt("greet", "Hello from " + WORKSPACE + ", {{name}}.")
print(run.info.experiment_id, run.info.run_id)
"""

CHECK = """
import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

mlflow.set_workspace(WORKSPACE)
client = MlflowClient()
assert mlflow.get_experiment_by_name("shared").experiment_id == EXPERIMENT_ID
assert client.get_model_version_by_alias("churn", "champion").run_id == RUN_ID
assert RUN_ID in client.get_model_version_download_uri("churn", "1") or client.get_model_version("churn", "1").run_id == RUN_ID
assert [m.name for m in client.search_registered_models()] == ["churn"]
assert [v.run_id for v in client.search_model_versions("name = 'churn'")] == [RUN_ID]
prompt = mlflow.genai.load_prompt("prompts:/greet/1")
assert prompt.format(name="Ann") == "Hello from " + WORKSPACE + ", Ann.", prompt.template
try:
    client.create_registered_model("churn")
except MlflowException as exc:
    assert exc.error_code == "RESOURCE_ALREADY_EXISTS", exc.error_code
else:
    raise AssertionError("a second 'churn' in one workspace")
mlflow.set_workspace(OTHER)  # the same names there are another team's: no grant on them
for call in (lambda: client.get_registered_model("churn"),
             lambda: client.get_model_version_by_alias("churn", "champion"),
             lambda: client.set_registered_model_alias("churn", "mine", "1")):
    try:
        call()
    except MlflowException as exc:
        assert exc.error_code == "PERMISSION_DENIED", exc.error_code
    else:
        raise AssertionError("another workspace's model reached through its name")
print("ok")
"""


def test_the_same_names_in_two_workspaces_with_the_official_client(teams_server):
    live, root = teams_server
    made = {team: line.split() for team, line in each_team_runs(live, MAKE).items()}
    assert made["dev"][0] != made["prod"][0]  # two experiments called "shared"
    for team, other in (("dev", "prod"), ("prod", "dev")):
        code = (CHECK.replace("OTHER", repr(other)).replace("WORKSPACE", repr(team))
                .replace("EXPERIMENT_ID", repr(made[team][0])).replace("RUN_ID", repr(made[team][1])))
        done = run_mlflow(live, code, f"{team}-user")
        assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]
    # Over REST: the header picks the model; without it, the default workspace has none of that name.
    for team in ("dev", "prod"):
        got = root.get("/api/2.0/mlflow/registered-models/alias", params={"name": "churn", "alias": "champion"},
                       headers={"X-MLFLOW-WORKSPACE": team})
        assert got.status_code == 200 and got.json()["model_version"]["run_id"] == made[team][1]
        versions = root.get("/api/2.0/mlflow/model-versions/search", params={"filter": "name = 'churn'"},
                            headers={"X-MLFLOW-WORKSPACE": team}).json()["model_versions"]
        assert [v["run_id"] for v in versions] == [made[team][1]]  # an admin too sees this workspace's only
    missing = root.get("/api/2.0/mlflow/registered-models/get", params={"name": "churn"})
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    # A grant on one workspace's model is not a grant on the other's.
    grant = {"username": "dev-user", "resource_type": "registered_model", "resource_id": "churn", "permission": "READ"}
    assert root.post("/api/3.0/mlflow/users/permissions/grant", json=grant,
                     headers={"X-MLFLOW-WORKSPACE": "prod"}).is_success
    dev_user = httpx.Client(base_url=live.url, auth=("dev-user", PASSWORD))
    assert dev_user.get("/api/2.0/mlflow/registered-models/get", params={"name": "churn"},
                        headers={"X-MLFLOW-WORKSPACE": "prod"}).status_code == 200
    seen = dev_user.get("/api/2.0/mlflow/registered-models/search", headers={"X-MLFLOW-WORKSPACE": "prod"})
    assert [m["name"] for m in seen.json()["registered_models"]] == ["churn"]  # filtered in SQL by the same key
    assert root.post("/api/3.0/mlflow/users/permissions/revoke", json=grant,
                     headers={"X-MLFLOW-WORKSPACE": "prod"}).is_success
    assert dev_user.get("/api/2.0/mlflow/registered-models/search", headers={"X-MLFLOW-WORKSPACE": "prod"}
                        ).json().get("registered_models", []) == []
    # Moving a workspace's contents into one that uses the same names is refused, naming them; nothing moves.
    assert root.post("/api/2.0/mlflow/registered-models/create", json={"name": "churn"}).is_success
    clash = root.delete("/api/3.0/mlflow/workspaces/dev", params={"mode": "SET_DEFAULT"})
    assert clash.status_code == 400 and "'churn'" in clash.json()["message"], clash.text
    assert root.get("/api/3.0/mlflow/workspaces/dev").status_code == 200
