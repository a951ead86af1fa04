"""Searches filtered in SQL: a page of N is full when N readable items exist among many unreadable ones,
and page tokens and counts tell nothing of the others (experiments, registered models, model versions)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from starlette.testclient import TestClient

from modelyard.server import create_app
from modelyard.service.caller import Principal, caller
from modelyard.settings import Settings

PASSWORD = "correct horse battery"
TOTAL = 12
GRANTED = (1, 5, 10)  # of 0..TOTAL-1: the reader's own grants
BY_GROUP = 7  # READ through a group
OVERRIDDEN = 3  # the group grants READ, the reader's own grant NO_PERMISSIONS wins


def _basic(user: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()}


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
            root = _basic("root")

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
        resp = (http.post(path, json=params, headers=_basic(user)) if method == "POST"
                else http.get(path, params=params, headers=_basic(user)))
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
