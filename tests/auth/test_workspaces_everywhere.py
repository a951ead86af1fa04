"""Workspaces everywhere: a model ``m`` in ``dev`` and another ``m`` in ``prod`` are never confused by monitors,
promotion policies, the registry's audit trail or ``model-versions/get-artifact``, through the real server and
the official client (``mlflow.set_workspace``), on SQLite and PostgreSQL behind ``--auth``; a request for the
other team's model is refused and reveals nothing."""

from __future__ import annotations

import httpx

from tests.auth.conftest import PASSWORD, TEAMS, each_team_runs

EXT = "/api/2.0/modelyard"
DENIED = {"error_code": "PERMISSION_DENIED", "message": "Permission denied."}

MAKE = """
import mlflow
from mlflow import MlflowClient

mlflow.set_workspace(WORKSPACE)
mlflow.set_experiment("shared")
with mlflow.start_run() as run:
    mlflow.log_text(WORKSPACE, "model/who.txt")
client = MlflowClient()
client.create_registered_model("m")
client.create_model_version("m", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
client.set_registered_model_tag("m", "team", WORKSPACE)
print("ok")
"""


def test_a_model_of_each_workspace_is_its_own_everywhere(teams_server):
    live, root = teams_server
    assert set(each_team_runs(live, MAKE).values()) == {"ok"}
    teams = {}
    for team in TEAMS:
        user = httpx.Client(base_url=live.url, auth=(f"{team}-user", PASSWORD), headers={"X-MLFLOW-WORKSPACE": team})
        teams[team] = user
        made = user.post(f"{EXT}/monitoring/monitors/create", json={"name": f"watch-{team}", "model_name": "m",
                                                                     "version": "1"})
        assert made.status_code == 200, made.text
        policy = {"gates": [{"check": "required_tags", "tags": [team]}]}
        set_policy = user.post(f"{EXT}/promotion/policies/set", json={"name": "m", "alias": "champion",
                                                                      "policy": policy})
        assert set_policy.status_code == 200, set_policy.text
    for team, other in (("dev", "prod"), ("prod", "dev")):
        user = teams[team]
        # The model's file of this workspace's version 1, not the other's.
        got = user.get("/model-versions/get-artifact", params={"name": "m", "version": "1", "path": "who.txt"})
        assert got.status_code == 200 and got.text == team, got.text
        # The UI's page of m with ?workspace=: this workspace's model (its team tag); the other's is refused.
        page = user.get("/models/m", params={"workspace": team}, headers={"Accept": "text/html"})
        assert page.status_code == 200 and f">{team}<" in page.text.replace(" ", ""), page.text[-2000:]
        assert user.get("/models/m", params={"workspace": other}).status_code == 403
        # Monitors: listed in their model's workspace only, named by the model's own name.
        listed = user.get(f"{EXT}/monitoring/monitors/list").json()["monitors"]
        assert [(m["name"], m["model_name"]) for m in listed] == [(f"watch-{team}", "m")]
        # The policy of this workspace's m@champion.
        found = user.get(f"{EXT}/promotion/policies/get", params={"name": "m", "alias": "champion"}).json()
        assert found["policy"]["gates"][0]["tags"] == [team] and found["model_name"] == "m"
        policies = user.get(f"{EXT}/promotion/policies/list").json()["policies"]
        assert [(p["model_name"], p["policy"]["gates"][0]["tags"]) for p in policies] == [("m", [team])]
        # The audit trail of m here: this team's changes, none of the other's.
        trail = user.get(f"{EXT}/registry/audit", params={"name": "m"}).json()["entries"]
        values = {e.get("new_value") for e in trail if e["action"] == "set_registered_model_tag"}
        assert values == {team}, trail
        assert any(e["action"] == "set_promotion_policy" for e in trail)
        # The other team's monitor and model: refused, with nothing in the answer.
        for path, params in ((f"{EXT}/monitoring/monitors/get", {"name": f"watch-{other}"}),
                             ("/model-versions/get-artifact", {"name": "m", "version": "1", "path": "who.txt"})):
            refused = user.get(path, params=params, headers={"X-MLFLOW-WORKSPACE": other})
            assert refused.status_code == 403 and refused.json() == DENIED, (path, refused.text)
    # The default workspace has no model m: nothing of dev's or prod's shows there.
    assert root.get(f"{EXT}/monitoring/monitors/list").json().get("monitors", []) == []
    assert root.get(f"{EXT}/promotion/policies/list").json().get("policies", []) == []
    assert root.get(f"{EXT}/registry/audit", params={"name": "m"}).json().get("entries", []) == []
    missing = root.get("/model-versions/get-artifact", params={"name": "m", "version": "1", "path": "who.txt"})
    assert missing.status_code == 404, missing.text
    # An admin reaches each through the workspace header.
    for team in TEAMS:
        listed = root.get(f"{EXT}/monitoring/monitors/list", headers={"X-MLFLOW-WORKSPACE": team}).json()
        assert [m["name"] for m in listed["monitors"]] == [f"watch-{team}"]
