"""The official ``mlflow.MlflowClient`` (3.17.2) against a live server: the registry REST API."""

from __future__ import annotations

import base64

import httpx
import pytest

from .conftest import unique

# MLflow warns that stages are deprecated; that is MLflow talking, not us.
pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning"), pytest.mark.filterwarnings("ignore::UserWarning")]


@pytest.fixture
def run_id(mlflow_client) -> str:  # type: ignore[no-untyped-def]
    return mlflow_client.create_run("0").info.run_id


def _register(c, name: str, run_id: str, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.create_model_version(name, f"runs:/{run_id}/model", run_id, tags={"i": str(i)}).version
            for i in range(n)]


def test_round_trip(mlflow_client, run_id) -> None:
    c, name = mlflow_client, unique()
    created = c.create_registered_model(name, tags={"team": "risk"}, description="fraud model")
    assert (created.name, created.tags, created.description) == (name, {"team": "risk"}, "fraud model")
    assert _register(c, name, run_id, 2) == ["1", "2"]
    mv = c.get_model_version(name, "2")
    assert (mv.source, mv.run_id, mv.status, mv.current_stage, mv.tags) == (
        f"runs:/{run_id}/model", run_id, "READY", "None", {"i": "1"})
    c.update_model_version(name, "2", description="better")
    c.set_model_version_tag(name, "2", "validated", "yes")
    c.delete_model_version_tag(name, "2", "i")
    assert c.get_model_version(name, "2").tags == {"validated": "yes"}
    assert c.get_model_version(name, "2").description == "better"
    c.update_registered_model(name, description="fraud model v2")
    c.set_registered_model_tag(name, "owner", "ana")
    c.delete_registered_model_tag(name, "team")
    model = c.get_registered_model(name)
    assert (model.description, model.tags) == ("fraud model v2", {"owner": "ana"})
    assert [v.version for v in model.latest_versions] == ["2"]
    assert c.get_model_version_download_uri(name, "1") == f"runs:/{run_id}/model"


def test_aliases(mlflow_client, run_id) -> None:
    c, name = mlflow_client, unique()
    c.create_registered_model(name)
    _register(c, name, run_id, 3)
    c.set_registered_model_alias(name, "champion", "1")
    c.set_registered_model_alias(name, "champion", "2")
    c.set_registered_model_alias(name, "challenger", "3")
    assert c.get_model_version_by_alias(name, "champion").version == "2"
    assert c.get_model_version_by_alias(name, "champion").aliases == ["champion"]
    assert c.get_registered_model(name).aliases == {"champion": "2", "challenger": "3"}
    c.delete_registered_model_alias(name, "challenger")
    assert c.get_registered_model(name).aliases == {"champion": "2"}
    c.delete_model_version(name, "2")
    assert c.get_registered_model(name).aliases == {}


def test_stages_with_archive(mlflow_client, run_id) -> None:
    c, name = mlflow_client, unique()
    c.create_registered_model(name)
    _register(c, name, run_id, 3)
    c.transition_model_version_stage(name, "1", "Production")
    c.transition_model_version_stage(name, "2", "Staging")
    mv = c.transition_model_version_stage(name, "3", "Production", archive_existing_versions=True)
    assert mv.current_stage == "Production"
    assert c.get_model_version(name, "1").current_stage == "Archived"
    assert [v.version for v in c.get_latest_versions(name, stages=["Production"])] == ["3"]
    assert sorted(v.current_stage for v in c.get_latest_versions(name)) == ["Archived", "Production", "Staging"]


def test_search_filter_order_and_pages(mlflow_client, run_id) -> None:
    c, prefix = mlflow_client, unique("search")
    for suffix, team in [("a", "x"), ("b", "y"), ("c", "x")]:
        c.create_registered_model(f"{prefix}-{suffix}", tags={"team": team})
        c.create_model_version(f"{prefix}-{suffix}", f"runs:/{run_id}/{suffix}", run_id)
    found = c.search_registered_models(f"name LIKE '{prefix}-%' AND tags.team = 'x'")
    assert [m.name for m in found] == [f"{prefix}-a", f"{prefix}-c"]
    assert [v.version for v in found[0].latest_versions] == ["1"]
    desc = c.search_registered_models(f"name ILIKE '{prefix.upper()}%'", order_by=["name DESC"])
    assert [m.name for m in desc] == [f"{prefix}-c", f"{prefix}-b", f"{prefix}-a"]
    first = c.search_registered_models(f"name LIKE '{prefix}%'", max_results=2)
    assert len(first) == 2 and first.token
    rest = c.search_registered_models(f"name LIKE '{prefix}%'", max_results=2, page_token=first.token)
    assert [m.name for m in rest] == [f"{prefix}-c"] and not rest.token
    versions = c.search_model_versions(f"run_id = '{run_id}' AND source_path LIKE '%/b'")
    assert [(v.name, v.version) for v in versions] == [(f"{prefix}-b", "1")]
    names = f"('{prefix}-a', '{prefix}-c')"
    ordered = c.search_model_versions(f"name IN {names}", order_by=["name DESC"])
    assert [v.name for v in ordered] == [f"{prefix}-c", f"{prefix}-a"]


def test_rename_and_deletes(mlflow_client, run_id) -> None:
    from mlflow.exceptions import MlflowException

    c, name = mlflow_client, unique()
    c.create_registered_model(name)
    _register(c, name, run_id, 2)
    c.rename_registered_model(name, name + "-new")
    assert [v.name for v in c.get_registered_model(name + "-new").latest_versions] == [name + "-new"]
    assert c.get_model_version(name + "-new", "2").name == name + "-new"
    c.delete_model_version(name + "-new", "1")
    assert [v.version for v in c.search_model_versions(f"name = '{name}-new'")] == ["2"]
    c.delete_registered_model(name + "-new")
    with pytest.raises(MlflowException) as err:
        c.get_registered_model(name + "-new")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_error_codes(mlflow_client, run_id) -> None:
    from mlflow.exceptions import MlflowException

    c, name = mlflow_client, unique()
    c.create_registered_model(name)
    c.create_model_version(name, f"runs:/{run_id}/model", run_id)
    cases = [
        (lambda: c.create_registered_model(name), "RESOURCE_ALREADY_EXISTS", 400),
        (lambda: c.get_registered_model(unique()), "RESOURCE_DOES_NOT_EXIST", 404),
        (lambda: c.get_model_version(name, "7"), "RESOURCE_DOES_NOT_EXIST", 404),
        (lambda: c.get_model_version(name, "seven"), "INVALID_PARAMETER_VALUE", 400),
        (lambda: c.transition_model_version_stage(name, "1", "Live"), "INVALID_PARAMETER_VALUE", 400),
        (lambda: c.set_registered_model_alias(name, "latest", "1"), "INVALID_PARAMETER_VALUE", 400),
        (lambda: c.get_model_version_by_alias(name, "nope"), "INVALID_PARAMETER_VALUE", 400),
        (lambda: c.search_registered_models("name > 'a'"), "INVALID_PARAMETER_VALUE", 400),
        (lambda: c.search_model_versions("bogus = 'a'"), "INVALID_PARAMETER_VALUE", 400),
        (lambda: c.create_registered_model("a/b"), "INVALID_PARAMETER_VALUE", 400),
        (lambda: c.create_model_version(name, "/etc/passwd", run_id), "INVALID_PARAMETER_VALUE", 400),
    ]
    for call, code, status in cases:
        with pytest.raises(MlflowException) as err:
            call()
        assert (err.value.error_code, err.value.get_http_status_code()) == (code, status), err.value.message


def test_ajax_twin_and_audit_extension(server, mlflow_client, run_id) -> None:
    name = unique()
    auth = {"Authorization": "Basic " + base64.b64encode(b"carol:secret").decode()}
    with httpx.Client(base_url=server.url, timeout=30, headers=auth) as http:
        created = http.post("/ajax-api/2.0/mlflow/registered-models/create", json={"name": name})
        assert created.status_code == 200 and created.json()["registered_model"]["name"] == name
        body = {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id}
        assert http.post("/api/2.0/mlflow/model-versions/create", json=body).json()["model_version"]["version"] == "1"
        moved = http.post("/api/2.0/mlflow/registered-models/alias", json={"name": name, "alias": "champion",
                                                                          "version": "1"})
        assert moved.status_code == 200
        audit = http.get("/api/2.0/modelyard/registry/audit", params={"name": name}).json()["entries"]
    assert [e["action"] for e in audit] == ["create_registered_model", "create_model_version",
                                           "set_registered_model_alias"]
    assert {e["user_id"] for e in audit} == {"carol"}
    assert audit[-1]["key"] == "champion" and audit[-1]["new_value"] == "1"
    mlflow_client.delete_registered_model(name)
    anon = httpx.get(f"{server.url}/api/2.0/modelyard/registry/audit", params={"name": name}).json()["entries"]
    assert anon[-1]["action"] == "delete_registered_model" and "user_id" not in anon[-1]
