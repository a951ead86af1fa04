"""Monitors are named per workspace, as the models they watch: ``dev`` and ``prod`` each hold a monitor ``watch``
(of their own model ``churn``), made, read, run, listed, shown in the UI and deleted apart; the scheduler runs
each; an alert's webhook names the monitor's workspace. The app in process, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from modelyard.server import create_app
from modelyard.settings import Settings
from tests.auth.conftest import TEAMS

API = "/api/2.0/mlflow"
P = "/api/2.0/modelyard/monitoring"


@pytest.fixture
def app(db_uri: str, tmp_path):
    settings = Settings(backend_store_uri=db_uri, artifacts_destination=str(tmp_path / "artifacts"),
                        background_workers=False)
    app = create_app(settings)
    with TestClient(app) as http:
        app.state.http = http
        yield app


def _call(app: Any, method: str, path: str, body: Any = None, workspace: str | None = None, **params: Any) -> Any:
    headers = {"X-MLFLOW-WORKSPACE": workspace} if workspace else {}
    resp = app.state.http.request(method, path, json=body, params=params or None, headers=headers)
    return resp.status_code, resp.json() if resp.content else {}


def _ok(app: Any, method: str, path: str, body: Any = None, workspace: str | None = None, **params: Any) -> Any:
    status, answer = _call(app, method, path, body, workspace, **params)
    assert status == 200, (path, answer)
    return answer


def test_a_monitor_name_in_two_workspaces_is_two_monitors(app):
    http = app.state.http
    assert http.post(f"{API}/webhooks", json={"name": "alerts", "url": "https://hooks.example.com/a",
                                              "events": ["monitor_alert.fired"]}).status_code == 200
    for team in TEAMS:
        assert http.post("/api/3.0/mlflow/workspaces", json={"name": team}).status_code == 201
        _ok(app, "POST", f"{API}/registered-models/create", {"name": "churn"}, team)
        # Every run alerts: fewer than one request in its window.
        rule = {"name": "quiet", "metric": "requests", "op": "<", "threshold": 1}
        made = _ok(app, "POST", f"{P}/monitors/create", {"name": "watch", "model_name": "churn", "version": "1",
                                                         "description": team, "rules": [rule],
                                                         "interval_s": 60}, team)
        assert made["monitor"]["name"] == "watch" and made["monitor"]["model_name"] == "churn"
    _ok(app, "POST", f"{P}/monitors/run", {"name": "watch"}, "prod")
    for team in TEAMS:
        got = _ok(app, "GET", f"{P}/monitors/get", workspace=team, name="watch")["monitor"]
        assert (got["name"], got["description"]) == ("watch", team)
        listed = _ok(app, "GET", f"{P}/monitors/list", workspace=team)["monitors"]
        assert [(m["name"], m["description"]) for m in listed] == [("watch", team)]
        results = _ok(app, "GET", f"{P}/results/list", workspace=team, name="watch")["results"]
        assert len(results) == (1 if team == "prod" else 0), results
        alerts = _ok(app, "GET", f"{P}/alerts/list", workspace=team, monitor_name="watch")["alerts"]
        assert [a["monitor_name"] for a in alerts] == (["watch"] if team == "prod" else [])
        # The UI's page of the workspace's monitor: prod's has run, dev's not.
        page = http.get("/monitors/watch", params={"workspace": team}, headers={"Accept": "text/html"})
        assert page.status_code == 200 and ("No runs yet" in page.text) is (team == "dev"), page.text[-1500:]
        listing = http.get("/monitors", params={"workspace": team}, headers={"Accept": "text/html"})
        assert listing.status_code == 200 and listing.text.count('href="/monitors/watch?workspace=') >= 1
    # The default workspace holds no monitor "watch".
    status, answer = _call(app, "GET", f"{P}/monitors/get", name="watch")
    assert status == 404 and answer["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert _ok(app, "GET", f"{P}/monitors/list").get("monitors", []) == []
    # The scheduler runs both, each on its own workspace's model; each result lands under its own monitor.
    service = app.state.service
    service.monitoring.clock = lambda: 10**13
    ran = service.monitoring.run_due()
    assert sorted(r.monitor_name for r in ran) == ["dev:watch", "prod:watch"]
    for team, runs in (("dev", 1), ("prod", 2)):
        results = _ok(app, "GET", f"{P}/results/list", workspace=team, name="watch")["results"]
        assert len(results) == runs, (team, results)
        # Its scores are logged to a run of its own workspace's "monitors" experiment, named by its bare name.
        exp = _ok(app, "GET", f"{API}/experiments/get-by-name", workspace=team, experiment_name="monitors")
        found = _ok(app, "POST", f"{API}/runs/search", {"experiment_ids": [exp["experiment"]["experiment_id"]]},
                    team)["runs"]
        assert [r["info"]["run_name"] for r in found] == ["monitor watch"], found
        tags = {t["key"]: t["value"] for t in found[0]["data"]["tags"]}
        assert (tags["modelyard.monitor"], tags["modelyard.model"]) == ("watch", "churn")
    # The default workspace got no monitors' experiment: the scheduler's runs went to each monitor's workspace.
    assert _call(app, "GET", f"{API}/experiments/get-by-name", experiment_name="monitors")[0] == 404
    # Each alert's webhook names the monitor by its name and workspace.
    from modelyard.store.webhooks_schema import webhook_deliveries

    with service.store.db.read() as conn:
        payloads = [json.loads(row.payload) for row in conn.execute(webhook_deliveries.select())]
    alerts = [p.get("data", p) for p in payloads]
    fired = sorted((a["workspace"], a["monitor_name"]) for a in alerts)
    assert fired == [("dev", "watch"), ("prod", "watch"), ("prod", "watch")], payloads
    # Deleting dev's leaves prod's.
    _ok(app, "POST", f"{P}/monitors/delete", {"name": "watch"}, "dev")
    assert _call(app, "GET", f"{P}/monitors/get", workspace="dev", name="watch")[0] == 404
    assert _ok(app, "GET", f"{P}/monitors/get", workspace="prod", name="watch")["monitor"]["description"] == "prod"


def test_migration_0025_keys_the_monitors_of_other_workspaces(empty_db_uri):
    """Monitors made before 0025 in a workspace other than default (their model's key says which) are renamed to
    their key, with their results and alerts; the default workspace's keep their names."""
    import sqlalchemy as sa

    from modelyard.store.engine import make_engine
    from modelyard.store.migrate import migrate
    from tests.store.test_migrations import _upgrade_to

    engine = make_engine(empty_db_uri)
    _upgrade_to(engine, "0024")
    with engine.begin() as conn:
        for name, model in (("watch", "prod:churn"), ("other", "churn")):
            conn.execute(sa.text("INSERT INTO monitors (name, model_name, spec, created_ms, updated_ms)"
                                 " VALUES (:n, :m, '{}', 0, 0)"), {"n": name, "m": model})
            conn.execute(sa.text("INSERT INTO monitor_results (monitor_name, started_ms, rows, labelled, metrics,"
                                 " report) VALUES (:n, 0, 0, 0, '{}', '{}')"), {"n": name})
            conn.execute(sa.text("INSERT INTO monitor_alerts (monitor_name, result_id, rule, metric, threshold,"
                                 " message, status, created_ms) VALUES (:n, 1, 'r', 'm', 0, 'x', 'open', 0)"),
                         {"n": name})
    migrate(engine)
    with engine.connect() as conn:
        for table, column in (("monitors", "name"), ("monitor_results", "monitor_name"),
                              ("monitor_alerts", "monitor_name")):
            found = sorted(conn.execute(sa.text(f"SELECT {column} FROM {table}")).scalars())
            assert found == ["other", "prod:watch"], (table, found)
    engine.dispose()
