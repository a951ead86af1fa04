"""Searches filtered in SQL: a page of N is full when N readable items exist among many unreadable ones,
and page tokens and counts tell nothing of the others (experiments, registered models, model versions)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from modelyard.server import create_app
from modelyard.service.caller import Principal, caller
from modelyard.settings import Settings
from tests.auth.conftest import PASSWORD, basic

TOTAL = 12
GRANTED = (1, 5, 10)  # of 0..TOTAL-1: the reader's own grants
BY_GROUP = 7  # READ through a group
OVERRIDDEN = 3  # the group grants READ, the reader's own grant NO_PERMISSIONS wins


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, tmp_path_factory):
    from tests.conftest import fresh_database

    tmp = tmp_path_factory.mktemp("filtered")
    with fresh_database(request.param, tmp) as uri:
        settings = Settings(backend_store_uri=uri, artifacts_destination=str(tmp / "artifacts"),
                            background_workers=False, auth=True, auth_admin_username="root",
                            auth_admin_password=PASSWORD, auth_default_permission="NO_PERMISSIONS",
                            auth_cache_seconds=600.0)
        app = create_app(settings)
        with TestClient(app, raise_server_exceptions=False) as http:
            root = basic("root")

            def call(path: str, body: dict[str, Any]) -> dict[str, Any]:
                resp = http.post(path, json=body, headers=root)
                assert resp.status_code == 200, resp.text
                return resp.json()

            call("/api/2.0/mlflow/users/create", {"username": "reader", "password": PASSWORD})
            call("/api/2.0/modelyard/groups/create", {"group": "team"})
            call("/api/2.0/modelyard/groups/members/add", {"group": "team", "username": "reader"})
            exps, models = [], []
            for i in range(TOTAL):
                exp = call("/api/2.0/mlflow/experiments/create", {"name": f"exp-{i:02d}"})["experiment_id"]
                run = call("/api/2.0/mlflow/runs/create", {"experiment_id": exp})["run"]["info"]
                call("/api/2.0/mlflow/registered-models/create", {"name": f"model-{i:02d}"})
                call("/api/2.0/mlflow/model-versions/create", {"name": f"model-{i:02d}", "source": run["artifact_uri"],
                                                               "run_id": run["run_id"]})
                exps.append(exp)
                models.append(f"model-{i:02d}")
            for kind, ids in (("experiment", exps), ("registered_model", models)):
                for i in GRANTED:
                    call("/api/3.0/mlflow/users/permissions/grant", {"username": "reader", "resource_type": kind,
                                                                    "resource_id": ids[i], "permission": "READ"})
                for i in (BY_GROUP, OVERRIDDEN):
                    call("/api/2.0/modelyard/groups/permissions/grant",
                         {"group": "team", "resource_type": kind, "resource_id": ids[i], "permission": "READ"})
                call("/api/3.0/mlflow/users/permissions/grant", {"username": "reader", "resource_type": kind,
                                                                "resource_id": ids[OVERRIDDEN],
                                                                "permission": "NO_PERMISSIONS"})
            yield http, app, exps, models


READABLE = sorted((*GRANTED, BY_GROUP))


def _pages(http: TestClient, method: str, path: str, key: str, ident: str, user: str) -> list[list[str]]:
    pages, token = [], None
    for _ in range(TOTAL + 2):
        params: dict[str, Any] = {"max_results": 2, **({"page_token": token} if token else {})}
        resp = (http.post(path, json=params, headers=basic(user)) if method == "POST"
                else http.get(path, params=params, headers=basic(user)))
        assert resp.status_code == 200, resp.text
        body = resp.json()
        pages.append(sorted(item[ident] for item in body.get(key, [])))
        token = body.get("next_page_token")
        if not token:
            return pages
    raise AssertionError("page tokens never ended")


@pytest.mark.parametrize(("method", "path", "key", "ident"), [
    ("POST", "/api/2.0/mlflow/experiments/search", "experiments", "name"),
    ("GET", "/api/2.0/mlflow/registered-models/search", "registered_models", "name"),
    ("GET", "/api/2.0/mlflow/model-versions/search", "model_versions", "name"),
])
def test_pages_are_full_of_what_the_caller_may_read(world, method, path, key, ident):
    http, _, _, _ = world
    pages = _pages(http, method, path, key, ident, "reader")
    prefix = "exp" if key == "experiments" else "model"
    assert [len(p) for p in pages] == [2, 2], pages  # 4 readable of 12: two full pages, and no third
    assert sorted(n for page in pages for n in page) == [f"{prefix}-{i:02d}" for i in READABLE]
    everything = [n for page in _pages(http, method, path, key, ident, "root") for n in page]
    assert len([n for n in everything if n.startswith(prefix + "-")]) == TOTAL


def test_the_default_permission_read_shows_all_but_what_is_taken_away(world):
    """With a READ default, the same SQL shows everything except explicit NO_PERMISSIONS grants."""
    _, app, _, _ = world
    svc = app.state.service
    reader = svc.auth.get_user("reader")
    token = caller.set(Principal(reader.id, "reader", False, True))
    try:
        names = {e.name for e in svc.experiments.search(max_results=100)}
        models = {m.name for m in svc.registry.search_registered_models(max_results=100)}
    finally:
        caller.reset(token)
    assert f"exp-{OVERRIDDEN:02d}" not in names and f"exp-{BY_GROUP:02d}" in names and "exp-00" in names
    assert f"model-{OVERRIDDEN:02d}" not in models and "model-00" in models and len(models) == TOTAL - 1


@pytest.fixture(scope="module")
def lists(world):
    """A monitor (with an alert) on each model, an evaluation dataset in each experiment, and a workspace each,
    the reader's grants on the workspaces as on the experiments and models."""
    from modelyard.store.monitoring import Alert, MonitorResult

    http, app, exps, models = world
    root = basic("root")

    def call(path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = http.post(path, json=body, headers=root)
        assert resp.status_code in (200, 201), resp.text
        return resp.json()

    store = app.state.service.store.monitoring
    spaces = [f"ws-{i:02d}" for i in range(TOTAL)]
    for i in range(TOTAL):
        call("/api/2.0/modelyard/monitoring/monitors/create",
             {"name": f"mon-{i:02d}", "model_name": models[i], "alias": "champion"})
        store.record_result(MonitorResult(0, f"mon-{i:02d}", "1", 1, None, None, 10, 0, {}),
                            [Alert(0, f"mon-{i:02d}", 0, "r", "share_drifted", 0.9, 0.3, "drifted", "open", 1 + i)],
                            None, lambda a: a.to_dict())
        call("/api/3.0/mlflow/datasets/create", {"name": f"set-{i:02d}", "experiment_ids": [exps[i]]})
        call("/api/3.0/mlflow/workspaces", {"name": spaces[i]})
    for i in GRANTED:
        call("/api/3.0/mlflow/users/permissions/grant", {"username": "reader", "resource_type": "workspace",
                                                        "resource_id": spaces[i], "permission": "READ"})
    for i in (BY_GROUP, OVERRIDDEN):
        call("/api/2.0/modelyard/groups/permissions/grant",
             {"group": "team", "resource_type": "workspace", "resource_id": spaces[i], "permission": "READ"})
    call("/api/3.0/mlflow/users/permissions/grant", {"username": "reader", "resource_type": "workspace",
                                                    "resource_id": spaces[OVERRIDDEN], "permission": "NO_PERMISSIONS"})
    return http


def _offset_pages(http: TestClient, path: str, key: str, ident: str, user: str) -> list[list[str]]:
    pages, offset = [], 0
    for _ in range(TOTAL + 2):
        resp = http.get(path, params={"max_results": 2, "offset": offset}, headers=basic(user))
        assert resp.status_code == 200, resp.text
        page = [str(item[ident]) for item in resp.json().get(key, [])]
        if not page:
            return pages
        pages.append(sorted(page))
        offset += 2
    raise AssertionError("pages never ended")


@pytest.mark.parametrize(("path", "key", "ident", "prefix"), [
    ("/api/2.0/modelyard/monitoring/monitors/list", "monitors", "name", "mon"),
    ("/api/2.0/modelyard/monitoring/alerts/list", "alerts", "monitor_name", "mon"),
])
def test_monitor_and_alert_pages_are_full_of_what_the_caller_may_read(lists, path, key, ident, prefix):
    """Filtered in SQL: readable rows lie between unreadable ones (models 1, 5, 7, 10 of 0..11), yet every page
    of 2 is full, and paging on past them finds nothing more."""
    pages = _offset_pages(lists, path, key, ident, "reader")
    assert [len(p) for p in pages] == [2, 2], pages
    assert sorted(n for page in pages for n in page) == [f"{prefix}-{i:02d}" for i in READABLE]
    assert len([n for page in _offset_pages(lists, path, key, ident, "root") for n in page]) >= TOTAL


def test_dataset_pages_are_full_of_what_the_caller_may_read(lists):
    pages = _pages(lists, "POST", "/api/3.0/mlflow/datasets/search", "datasets", "name", "reader")
    assert [len(p) for p in pages] == [2, 2], pages  # the second page carries no token: nothing is left
    assert sorted(n for page in pages for n in page) == [f"set-{i:02d}" for i in READABLE]


def test_the_workspace_list_shows_what_the_caller_may_read(lists):
    found = lists.get("/api/3.0/mlflow/workspaces", headers=basic("reader")).json()["workspaces"]
    assert [w["name"] for w in found] == [f"ws-{i:02d}" for i in READABLE]
    everything = lists.get("/api/3.0/mlflow/workspaces", headers=basic("root")).json()["workspaces"]
    assert len(everything) == TOTAL + 1  # and default


def test_a_grant_on_the_workspace_reaches_monitors_alerts_and_datasets_in_sql(lists):
    """The workspace's grant, found through the model or experiment each row points to (a subquery correlated
    to the searched row inside each grant's EXISTS), lets a user with no other grant read them all."""
    root = basic("root")
    assert lists.post("/api/2.0/mlflow/users/create", json={"username": "wide", "password": PASSWORD},
                      headers=root).status_code == 200
    for user, count in (("wide", 0), ("root", TOTAL)):
        if user == "root":
            grant = {"username": "wide", "resource_type": "workspace", "resource_id": "default", "permission": "READ"}
            assert lists.post("/api/3.0/mlflow/users/permissions/grant", json=grant, headers=root).status_code == 200
        monitors = lists.get("/api/2.0/modelyard/monitoring/monitors/list", headers=basic("wide")).json()
        alerts = lists.get("/api/2.0/modelyard/monitoring/alerts/list", headers=basic("wide")).json()
        sets = lists.post("/api/3.0/mlflow/datasets/search", json={}, headers=basic("wide")).json()
        assert len([m for m in monitors.get("monitors", []) if m["name"].startswith("mon-")]) == count
        assert len([a for a in alerts.get("alerts", []) if a["monitor_name"].startswith("mon-")]) == count
        assert len([d for d in sets.get("datasets", []) if d["name"].startswith("set-")]) == count
