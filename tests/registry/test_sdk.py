"""``modelyard.Client`` registry methods, in process (embedded) and over HTTP (server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from modelyard.client import Client
from modelyard.errors import (
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)

from .conftest import unique


@pytest.fixture(params=["embedded", "server"])
def client(request: pytest.FixtureRequest, server, tmp_path) -> Iterator[Client]:  # type: ignore[no-untyped-def]
    """In process over a fresh folder, or over HTTP to the module's server (SQLite, PostgreSQL)."""
    c = Client(str(tmp_path / "store") if request.param == "embedded" else server.url)
    yield c
    c.close()


def test_registry_round_trip(client: Client) -> None:
    run_id = client.create_run("0").info.run_id
    name = unique()
    created = client.create_registered_model(name, tags={"stars": 5}, description="d")
    assert created.tags == {"stars": "5"}
    versions = [client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id, tags={"i": i}).version
                for i in range(3)]
    assert versions == ["1", "2", "3"]
    client.set_registered_model_alias(name, "champion", 2)
    assert client.get_model_version_by_alias(name, "champion").version == "2"
    assert client.resolve_model_version(f"models:/{name}@champion").version == "2"
    assert client.resolve_model_version(f"models:/{name}/1").version == "1"
    client.transition_model_version_stage(name, 1, "Production")
    client.transition_model_version_stage(name, 3, "Production", archive_existing_versions=True)
    assert client.resolve_model_version(f"models:/{name}/Production").version == "3"
    assert [v.version for v in client.get_latest_versions(name, ["Archived"])] == ["1"]
    assert client.update_model_version(name, 3, "best").description == "best"
    client.set_model_version_tag(name, 3, "ok", True)
    assert client.get_model_version(name, 3).tags == {"i": "2", "ok": "True"}
    client.delete_model_version_tag(name, 3, "ok")
    client.set_registered_model_tag(name, "team", "risk")
    client.delete_registered_model_tag(name, "stars")
    assert client.update_registered_model(name, "d2").tags == {"team": "risk"}
    assert client.get_model_version_download_uri(name, 2) == f"runs:/{run_id}/model"
    page = client.search_model_versions(f"name = '{name}'", max_results=2, order_by=["version_number ASC"])
    assert [v.version for v in page.items] == ["1", "2"] and page.next_page_token
    assert [m.name for m in client.search_registered_models(f"name = '{name}'").items] == [name]
    renamed = client.rename_registered_model(name, name + "-x")
    assert renamed.aliases == {"champion": "2"}
    client.delete_registered_model_alias(name + "-x", "champion")
    client.delete_model_version(name + "-x", 1)
    client.delete_registered_model(name + "-x")
    actions = [e.action for e in client.registry_audit(name)]
    assert actions[0] == "create_registered_model" and actions[-1] == "delete_registered_model"
    assert "rename_registered_model" in actions and actions.count("create_model_version") == 3


def test_errors_are_the_same_classes(client: Client) -> None:
    name = unique()
    client.create_registered_model(name)
    with pytest.raises(ResourceAlreadyExists):
        client.create_registered_model(name)
    with pytest.raises(ResourceDoesNotExist):
        client.get_model_version(name, 1)
    with pytest.raises(InvalidParameterValue):
        client.set_registered_model_alias(name, "v1", 1)
    with pytest.raises(InvalidParameterValue):
        client.search_model_versions("name LIKE")
