"""Experiments through ``MlflowClient`` and raw HTTP: create, get, search, rename, delete, restore, tags."""

from __future__ import annotations

import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException, RestException

from .conftest import assert_error, unique


def test_create_get_and_get_by_name(client, server):
    name = unique()
    eid = client.create_experiment(name, tags={"team": "vision", "owner": "ana"})
    assert eid.isdigit()
    exp = client.get_experiment(eid)
    assert exp.experiment_id == eid
    assert exp.name == name
    assert exp.tags == {"team": "vision", "owner": "ana"}
    assert exp.lifecycle_stage == "active"
    assert exp.artifact_location == f"mlflow-artifacts:/{eid}"
    assert exp.creation_time and exp.last_update_time and exp.creation_time <= exp.last_update_time
    assert client.get_experiment_by_name(name).experiment_id == eid
    # MLflow's client turns RESOURCE_DOES_NOT_EXIST from get-by-name into None.
    assert client.get_experiment_by_name(unique("missing")) is None


def test_create_with_artifact_location(client, server):
    inside = f"{server.root}/artifacts/some/prefix"  # a location inside the server's artifact roots
    eid = client.create_experiment(unique(), artifact_location=f"{inside}/")
    assert client.get_experiment(eid).artifact_location == inside


def test_create_refuses_a_location_outside_the_roots(client):
    with pytest.raises(MlflowException, match="artifact_location") as caught:
        client.create_experiment(unique(), artifact_location="s3://bucket/some/prefix/")
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"


def test_default_experiment_exists(client):
    exp = client.get_experiment("0")
    assert exp.name == "Default"
    assert client.get_experiment_by_name("Default").experiment_id == "0"


def test_fluent_set_experiment_creates_then_reuses(client):
    import mlflow

    name = unique()
    first = mlflow.set_experiment(name)
    again = mlflow.set_experiment(name)
    assert first.experiment_id == again.experiment_id
    assert mlflow.get_experiment_by_name(name).experiment_id == first.experiment_id


def test_rename(client):
    name = unique()
    eid = client.create_experiment(name)
    before = client.get_experiment(eid).last_update_time
    client.rename_experiment(eid, name + "-renamed")
    exp = client.get_experiment(eid)
    assert exp.name == name + "-renamed"
    assert exp.last_update_time >= before
    assert client.get_experiment_by_name(name) is None
    assert client.get_experiment_by_name(name + "-renamed").experiment_id == eid


def test_delete_and_restore(client):
    name = unique()
    eid = client.create_experiment(name)
    client.delete_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "deleted"
    assert eid not in {e.experiment_id for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=50000)}
    assert eid in {e.experiment_id for e in client.search_experiments(view_type=ViewType.DELETED_ONLY)}
    assert eid in {e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL, max_results=50000)}
    # A deleted experiment still owns its name.
    with pytest.raises(MlflowException) as info:
        client.create_experiment(name)
    assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"
    client.restore_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "active"
    with pytest.raises(MlflowException) as info:
        client.restore_experiment(eid)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_runs_of_a_deleted_experiment_cannot_be_created(client):
    eid = client.create_experiment(unique())
    client.delete_experiment(eid)
    with pytest.raises(MlflowException) as info:
        client.create_run(eid)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_default_experiment_cannot_be_deleted(client):
    with pytest.raises(MlflowException) as info:
        client.delete_experiment("0")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert client.get_experiment("0").lifecycle_stage == "active"


def test_set_and_delete_experiment_tag(client):
    eid = client.create_experiment(unique())
    client.set_experiment_tag(eid, "stage", "dev")
    client.set_experiment_tag(eid, "stage", "prod")  # overwrite
    client.set_experiment_tag(eid, "mlflow.note.content", "notes")
    assert client.get_experiment(eid).tags == {"stage": "prod", "mlflow.note.content": "notes"}
    client.delete_experiment_tag(eid, "stage")
    assert client.get_experiment(eid).tags == {"mlflow.note.content": "notes"}
    with pytest.raises(MlflowException) as info:
        client.delete_experiment_tag(eid, "stage")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_fluent_set_experiment_tags(client):
    import mlflow

    exp = mlflow.set_experiment(unique())
    mlflow.set_experiment_tags({"a": "1", "b": "2"})
    assert client.get_experiment(exp.experiment_id).tags == {"a": "1", "b": "2"}


@pytest.fixture
def family(client):
    """Five experiments sharing a prefix, with tags; one deleted."""
    prefix = unique("fam")
    ids = {}
    for i, name in enumerate(["alpha", "beta", "gamma", "delta", "epsilon"]):
        ids[name] = client.create_experiment(f"{prefix}-{name}", tags={"idx": str(i), "even": str(i % 2 == 0)})
    client.delete_experiment(ids["epsilon"])
    return prefix, ids


def test_search_filter_order_and_paging(client, family):
    prefix, ids = family
    found = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'", order_by=["name ASC"])
    assert [e.name for e in found] == [f"{prefix}-{n}" for n in ["alpha", "beta", "delta", "gamma"]]

    pages, token = [], None
    while True:
        page = client.search_experiments(
            filter_string=f"name LIKE '{prefix}-%'", order_by=["name DESC"], max_results=3, page_token=token
        )
        pages.append([e.name.rsplit("-", 1)[1] for e in page])
        token = page.token
        if not token:
            break
    assert pages == [["gamma", "delta", "beta"], ["alpha"]]

    tagged = client.search_experiments(filter_string=f"name LIKE '{prefix}%' AND tags.even = 'True'")
    assert {e.name.rsplit("-", 1)[1] for e in tagged} == {"alpha", "gamma"}
    ilike = client.search_experiments(filter_string=f"name ILIKE '{prefix.upper()}-AL%'")
    assert [e.experiment_id for e in ilike] == [ids["alpha"]]
    like = client.search_experiments(filter_string=f"name LIKE '{prefix.upper()}-AL%'")
    assert like == []

    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY, filter_string=f"name LIKE '{prefix}%'")
    assert [e.experiment_id for e in deleted] == [ids["epsilon"]]
    every = client.search_experiments(view_type=ViewType.ALL, filter_string=f"name LIKE '{prefix}%'")
    assert {e.experiment_id for e in every} == set(ids.values())


def test_search_order_by_creation_time_and_id(client, family):
    prefix, ids = family
    by_id = client.search_experiments(filter_string=f"name LIKE '{prefix}%'", order_by=["experiment_id DESC"])
    assert [e.experiment_id for e in by_id] == sorted(
        [ids[n] for n in ["alpha", "beta", "gamma", "delta"]], key=int, reverse=True
    )
    newest_first = client.search_experiments(filter_string=f"name LIKE '{prefix}%'")
    # MLflow's default order: creation_time DESC, then experiment_id ASC.
    assert [e.creation_time for e in newest_first] == sorted((e.creation_time for e in newest_first), reverse=True)


def test_search_get_endpoint_with_query_string(http, client, family):
    prefix, _ = family
    r = http.get(
        "/api/2.0/mlflow/experiments/search",
        params=[("filter", f"name LIKE '{prefix}%'"), ("order_by", "name ASC"), ("max_results", "2"),
                ("view_type", "ALL")],
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [e["name"].rsplit("-", 1)[1] for e in body["experiments"]] == ["alpha", "beta"]
    assert body["next_page_token"]
    r2 = http.get(
        "/api/2.0/mlflow/experiments/search",
        params=[("filter", f"name LIKE '{prefix}%'"), ("order_by", "name ASC"), ("max_results", "2"),
                ("view_type", "ALL"), ("page_token", body["next_page_token"])],
    )
    assert [e["name"].rsplit("-", 1)[1] for e in r2.json()["experiments"]] == ["delta", "epsilon"]


def test_experiment_json_shape(http, client):
    name = unique()
    eid = client.create_experiment(name, tags={"k": "v"})
    body = http.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": eid}).json()
    exp = body["experiment"]
    assert exp["experiment_id"] == eid and exp["name"] == name
    assert exp["tags"] == [{"key": "k", "value": "v"}]
    assert isinstance(exp["creation_time"], int) and isinstance(exp["last_update_time"], int)
    by_name = http.get("/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name}).json()
    assert by_name == body


def test_errors(client, http):
    name = unique()
    client.create_experiment(name)
    with pytest.raises(RestException) as info:
        client.create_experiment(name)
    assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert info.value.get_http_status_code() == 400
    assert_error(http.post("/api/2.0/mlflow/experiments/create", json={"name": name}), 400, "RESOURCE_ALREADY_EXISTS")
    assert_error(http.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": "987654"}), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    assert_error(http.get("/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": unique()}), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    assert_error(http.post("/api/2.0/mlflow/experiments/create", json={}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(http.post("/api/2.0/mlflow/experiments/create", json={"name": ""}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(http.post("/api/2.0/mlflow/experiments/create", json={"name": 5}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(http.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": "abc"}), 400,
                 "INVALID_PARAMETER_VALUE")
    assert_error(http.post("/api/2.0/mlflow/experiments/delete", json={"experiment_id": "987654"}), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    assert_error(http.post("/api/2.0/mlflow/experiments/update", json={"experiment_id": "987654", "new_name": "x"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    with pytest.raises(MlflowException) as info:
        client.get_experiment("987654")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert info.value.get_http_status_code() == 404


def test_search_errors(client, http):
    with pytest.raises(MlflowException) as info:
        client.search_experiments(filter_string="name = 'a' OR name = 'b'")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as info:
        client.search_experiments(max_results=50001)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert_error(http.post("/api/2.0/mlflow/experiments/search", json={"page_token": "not-a-token"}), 400,
                 "INVALID_PARAMETER_VALUE")
    assert_error(http.post("/api/2.0/mlflow/experiments/search", json={"order_by": ["nope DESC"]}), 400,
                 "INVALID_PARAMETER_VALUE")
    assert_error(http.post("/api/2.0/mlflow/experiments/search", json={"view_type": "SOME"}), 400,
                 "INVALID_PARAMETER_VALUE")
