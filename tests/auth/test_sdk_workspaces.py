"""The SDK in a workspace: ``MLFLOW_WORKSPACE`` is read on every call, by a client made before it changed (the
fluent API's cached one too), and names resolve in it alike embedded (no server) and against a live server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import modelyard as my
from modelyard.api import schemas_workspaces as s
from modelyard.api.workspaces import CREATE_WORKSPACE
from modelyard.errors import InvalidParameterValue
from tests.conftest import LiveServer, migrated_sqlite


@pytest.fixture(params=["embedded", "server"])
def tracking_uri(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if request.param == "embedded":
        yield f"sqlite:///{tmp_path / 'embedded.db'}"
        return
    server = LiveServer(migrated_sqlite(tmp_path / "server.db"), str(tmp_path / "artifacts"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def fluent(tracking_uri: str) -> Iterator[str]:
    my.set_tracking_uri(tracking_uri)
    try:
        yield tracking_uri
    finally:
        my.set_tracking_uri(None)


def test_one_client_follows_the_workspace_variable(tracking_uri, monkeypatch):
    client = my.Client(tracking_uri)  # made before any workspace is named
    for team in ("dev", "prod"):
        client._call(CREATE_WORKSPACE, s.CreateWorkspace(name=team))
    made = {}
    for team in ("dev", "prod"):
        monkeypatch.setenv("MLFLOW_WORKSPACE", team)
        # The same names in both: refused as RESOURCE_ALREADY_EXISTS if the second went to the first's workspace.
        made[team] = client.create_experiment("churn-training")
        client.create_registered_model("churn", description=f"{team}'s churn")
    for team in ("dev", "prod"):
        monkeypatch.setenv("MLFLOW_WORKSPACE", team)
        assert client.get_experiment_by_name("churn-training").experiment_id == made[team]
        assert client.get_registered_model("churn").description == f"{team}'s churn"
        assert [m.name for m in client.search_registered_models()] == ["churn"]
    monkeypatch.delenv("MLFLOW_WORKSPACE")
    assert client.get_experiment_by_name("churn-training") is None  # the default workspace holds neither
    assert client.search_registered_models() == []
    monkeypatch.setenv("MLFLOW_WORKSPACE", "Not A Name")
    with pytest.raises(InvalidParameterValue, match="workspace name"):
        client.search_registered_models()
    client.close()


def test_the_fluent_clients_cache_follows_the_workspace_variable(fluent, monkeypatch):
    setup = my.Client(fluent)
    for team in ("dev", "prod"):
        setup._call(CREATE_WORKSPACE, s.CreateWorkspace(name=team))
    setup.close()
    ids = {}
    for team in ("dev", "prod"):
        monkeypatch.setenv("MLFLOW_WORKSPACE", team)
        with my.start_run(experiment_id=my.set_experiment("churn-training").experiment_id) as run:
            my.log_param("team", team)
        ids[team] = run.info.experiment_id
        assert my.get_run(run.info.run_id).data.params == {"team": team}
    assert ids["dev"] != ids["prod"]
    monkeypatch.setenv("MLFLOW_WORKSPACE", "dev")
    assert my.get_experiment_by_name("churn-training").experiment_id == ids["dev"]
