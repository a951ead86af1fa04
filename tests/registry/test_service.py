"""The registry service on SQLite and PostgreSQL: rules, numbering, aliases, stages, search, audit."""

from __future__ import annotations

import itertools
import threading

import pytest

from modelyard.errors import (
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from modelyard.service.registry import acting_user


@pytest.fixture
def reg(service):  # type: ignore[no-untyped-def]
    return service.registry


@pytest.fixture
def run_id(service) -> str:  # type: ignore[no-untyped-def]
    return service.runs.create("0").info.run_id


def _versions(reg, name: str, n: int, run_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [reg.create_model_version(name, f"runs:/{run_id}/model", run_id).version for _ in range(n)]


def test_registered_model_lifecycle(reg, run_id) -> None:
    created = reg.create_registered_model("fraud", {"team": "risk"}, "first")
    assert (created.name, created.description, created.tags) == ("fraud", "first", {"team": "risk"})
    assert created.creation_timestamp == created.last_updated_timestamp
    with pytest.raises(ResourceAlreadyExists, match=r"Registered Model \(name=fraud\) already exists"):
        reg.create_registered_model("fraud")
    assert reg.update_registered_model("fraud", "second").description == "second"
    reg.set_registered_model_tag("fraud", "team", "fraud-ops")
    reg.delete_registered_model_tag("fraud", "team")
    reg.delete_registered_model_tag("fraud", "missing")  # a no-op, as MLflow
    assert reg.get_registered_model("fraud").tags == {}
    _versions(reg, "fraud", 2, run_id)
    renamed = reg.rename_registered_model("fraud", "fraud-v2")
    assert renamed.name == "fraud-v2" and [v.name for v in renamed.latest_versions] == ["fraud-v2"]
    assert reg.get_model_version("fraud-v2", 2).name == "fraud-v2"
    reg.create_registered_model("other")
    with pytest.raises(ResourceAlreadyExists):
        reg.rename_registered_model("other", "fraud-v2")
    reg.delete_registered_model("fraud-v2")
    with pytest.raises(ResourceDoesNotExist, match="Registered Model with name=fraud-v2 not found"):
        reg.get_registered_model("fraud-v2")
    assert reg.search_model_versions("name = 'fraud-v2'").items == []
    # The name is free again, and versions start over.
    reg.create_registered_model("fraud-v2")
    assert _versions(reg, "fraud-v2", 1, run_id) == ["1"]


@pytest.mark.parametrize("bad", ["", "a/b", "a:b", "..", "./x"])
def test_model_name_rules(reg, bad: str) -> None:
    with pytest.raises(InvalidParameterValue):
        reg.create_registered_model(bad)


def test_versions_are_numbered_and_never_reused(reg, run_id) -> None:
    reg.create_registered_model("m")
    assert _versions(reg, "m", 3, run_id) == ["1", "2", "3"]
    reg.delete_model_version("m", "3")
    with pytest.raises(ResourceDoesNotExist, match=r"Model Version \(name=m, version=3\) not found"):
        reg.get_model_version("m", "3")
    assert _versions(reg, "m", 1, run_id) == ["4"]
    mv = reg.get_model_version("m", 4)
    assert (mv.status, mv.current_stage, mv.run_id) == ("READY", "None", run_id)
    assert reg.get_model_version_download_uri("m", 4) == f"runs:/{run_id}/model"
    with pytest.raises(InvalidParameterValue, match="Parameter 'version' must be an integer, got 'x'"):
        reg.get_model_version("m", "x")
    with pytest.raises(ResourceDoesNotExist):
        reg.create_model_version("nope", "s3://b/k")


def test_concurrent_version_creation(reg) -> None:
    reg.create_registered_model("busy")
    got: list[str] = []
    errors: list[BaseException] = []

    def register() -> None:
        try:
            for _ in range(5):
                got.append(reg.create_model_version("busy", "s3://bucket/model").version)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(map(int, got)) == list(range(1, 31))


def test_aliases(reg, run_id) -> None:
    reg.create_registered_model("m")
    _versions(reg, "m", 3, run_id)
    reg.set_registered_model_alias("m", "champion", "1")
    reg.set_registered_model_alias("m", "champion", 2)  # moves
    reg.set_registered_model_alias("m", "challenger", "3")
    assert reg.get_model_version_by_alias("m", "champion").version == "2"
    assert reg.get_model_version("m", 2).aliases == ["champion"]
    assert reg.get_registered_model("m").aliases == {"challenger": "3", "champion": "2"}
    assert reg.resolve("models:/m@challenger").version == "3"
    assert reg.resolve("models:/m/1").version == "1"
    assert reg.resolve("models:/m/latest").version == "3"
    assert reg.get_model_version_by_alias("m", "latest").version == "3"
    assert reg.download_uri("models:/m@champion") == f"runs:/{run_id}/model"
    for bad, message in [("latest", "reserved"), ("v3", "reserved"), ("a b", "Invalid alias name"), ("", "empty")]:
        with pytest.raises(InvalidParameterValue, match=message):
            reg.set_registered_model_alias("m", bad, "1")
    with pytest.raises(ResourceDoesNotExist):
        reg.set_registered_model_alias("m", "x", "9")
    reg.delete_model_version("m", "3")  # takes its aliases along
    with pytest.raises(InvalidParameterValue, match="Registered model alias challenger not found"):
        reg.get_model_version_by_alias("m", "challenger")
    reg.delete_registered_model_alias("m", "champion")
    reg.delete_registered_model_alias("m", "champion")  # a no-op, as MLflow
    assert reg.get_registered_model("m").aliases == {}
    with pytest.raises(InvalidParameterValue, match="models:/"):
        reg.resolve("runs:/abc/model")


def test_stages_and_latest_versions(reg, run_id) -> None:
    reg.create_registered_model("m")
    _versions(reg, "m", 4, run_id)
    reg.transition_model_version_stage("m", "1", "production")
    reg.transition_model_version_stage("m", "2", "Staging")
    mv = reg.transition_model_version_stage("m", "3", "Production", archive_existing_versions=True)
    assert mv.current_stage == "Production"
    assert reg.get_model_version("m", 1).current_stage == "Archived"
    assert reg.get_model_version("m", 2).current_stage == "Staging"
    latest = {v.current_stage: v.version for v in reg.get_latest_versions("m")}
    assert latest == {"None": "4", "Staging": "2", "Production": "3", "Archived": "1"}
    assert [v.version for v in reg.get_latest_versions("m", ["Production", "staging"])] == ["2", "3"]
    assert reg.resolve("models:/m/Production").version == "3"
    with pytest.raises(InvalidParameterValue, match="Invalid Model Version stage: Live"):
        reg.transition_model_version_stage("m", "4", "Live")
    with pytest.raises(InvalidParameterValue, match="not an Active stage"):
        reg.transition_model_version_stage("m", "4", "Archived", archive_existing_versions=True)
    with pytest.raises(InvalidParameterValue):
        reg.get_latest_versions("m", ["Live"])


def test_search_registered_models(reg) -> None:
    for name, team in [("fraud-a", "risk"), ("Fraud-B", "risk"), ("churn", "growth"), ("fraud_c", None)]:
        reg.create_registered_model(name, {"team": team} if team else {})
    reg.create_registered_model("my-prompt", {"mlflow.prompt.is_prompt": "true"})

    def names(filter_string=None, **kw):  # type: ignore[no-untyped-def]
        return [m.name for m in reg.search_registered_models(filter_string, **kw).items]

    assert names() == ["Fraud-B", "churn", "fraud-a", "fraud_c"]  # by name; prompts hidden
    assert names("name LIKE 'fraud%'") == ["fraud-a", "fraud_c"]
    assert names("name ILIKE 'fraud%'") == ["Fraud-B", "fraud-a", "fraud_c"]
    assert names("name LIKE 'fraud\\_%'") == ["fraud_c"]
    assert names("name != 'churn' AND tags.team = 'risk'") == ["Fraud-B", "fraud-a"]
    assert names("name IN ('churn', 'fraud-a')") == ["churn", "fraud-a"]
    assert names("tags.team LIKE '%o%'") == ["churn"]
    assert names("tags.`mlflow.prompt.is_prompt` = 'true'") == ["my-prompt"]
    assert names(order_by=["name DESC"]) == ["fraud_c", "fraud-a", "churn", "Fraud-B"]
    assert names(order_by=["creation_timestamp DESC"])[0] == "fraud_c"
    first = reg.search_registered_models(max_results=3)
    assert first.next_page_token
    assert [m.name for m in reg.search_registered_models(max_results=3, page_token=first.next_page_token).items] == [
        "fraud_c"]
    for bad in ["run_id = 'x'", "name > 'a'", "tags.team IS NULL", "name = 'a' OR name = 'b'", "params.x = 'a'"]:
        with pytest.raises(InvalidParameterValue):
            reg.search_registered_models(bad)
    for bad_order in [["version_number"], ["name", "name DESC"], ["name SIDEWAYS"]]:
        with pytest.raises(InvalidParameterValue):
            reg.search_registered_models(order_by=bad_order)
    with pytest.raises(InvalidParameterValue):
        reg.search_registered_models(max_results=1001)


def test_search_model_versions(reg, service) -> None:
    runs = [service.runs.create("0").info.run_id for _ in range(2)]
    for name in ("a", "b"):
        reg.create_registered_model(name)
        for i, rid in enumerate(runs):
            reg.create_model_version(name, f"runs:/{rid}/model-{i}", rid, {"flavor": "sklearn" if i else "torch"})

    def found(filter_string=None, **kw):  # type: ignore[no-untyped-def]
        return [(v.name, v.version) for v in reg.search_model_versions(filter_string, **kw).items]

    assert found("name = 'a'", order_by=["version_number ASC"]) == [("a", "1"), ("a", "2")]
    assert found(f"run_id = '{runs[0]}'", order_by=["name DESC"]) == [("b", "1"), ("a", "1")]
    assert sorted(found(f"run_id IN ('{runs[0]}', '{runs[1]}') AND name = 'b'")) == [("b", "1"), ("b", "2")]
    assert found("source_path LIKE '%model-1' AND name = 'a'") == [("a", "2")]
    assert found("tags.flavor = 'torch'", order_by=["name ASC"]) == [("a", "1"), ("b", "1")]
    assert found("version_number > 1 AND name = 'b'") == [("b", "2")]
    # Default order: last updated first, then name, then version descending.
    reg.update_model_version("a", "1", "touched")
    assert found()[0] == ("a", "1")
    page = reg.search_model_versions(max_results=3)
    rest = reg.search_model_versions(max_results=3, page_token=page.next_page_token)
    assert len(page.items) == 3 and len(rest.items) == 1 and rest.next_page_token is None
    for bad in ["source_path IN ('x')", "version_number = 'one'", "creation_timestamp > 0", "tags.x > 'a'"]:
        with pytest.raises(InvalidParameterValue):
            reg.search_model_versions(bad)


def test_source_rules(reg, service, run_id, tmp_path) -> None:
    reg.create_registered_model("m")
    run = service.runs.get(run_id)
    inside = run.info.artifact_uri + "/model"
    assert reg.create_model_version("m", inside, run_id).source == inside
    other = service.runs.create("0").info.run_id
    for source, rid in [
        (str(tmp_path / "elsewhere"), run_id),  # a local path outside the run's artifacts
        (inside, None),                         # a local path without run_id
        (f"runs:/{run_id}/model", other),       # runs:/ of another run
        ("s3://bucket/../../etc", None),        # relative parts
        ("models:/m-123", None),                # a logged model without model_id
    ]:
        with pytest.raises(InvalidParameterValue, match="Invalid model version source"):
            reg.create_model_version("m", source, rid)
    copied = reg.create_model_version("m", "models:/m/1")
    assert (copied.source, copied.run_id) == ("models:/m/1", run_id)
    assert reg.get_model_version_download_uri("m", copied.version) == inside
    model = service.logged_models.create(run.info.experiment_id, "model", source_run_id=run_id)
    logged = reg.create_model_version("m", f"models:/{model.model_id}", model_id=model.model_id)
    assert (logged.model_id, logged.run_id) == (model.model_id, run_id)
    with pytest.raises(InvalidParameterValue, match="model_id"):  # no such logged model
        reg.create_model_version("m", "models:/m-abc", model_id="m-abc")


def test_audit_trail(reg, run_id) -> None:
    token = acting_user.set("alice")
    try:
        reg.create_registered_model("m", description="v0")
        reg.update_registered_model("m", "v1")
        _versions(reg, "m", 2, run_id)
        reg.set_registered_model_alias("m", "champion", "1")
        reg.set_registered_model_alias("m", "champion", "2")
        reg.transition_model_version_stage("m", "2", "Production")
        reg.rename_registered_model("m", "m2")
    finally:
        acting_user.reset(token)
    reg.delete_registered_model("m2")
    entries = reg.audit("m2").items
    assert [e.action for e in entries] == [
        "create_registered_model", "update_registered_model", "create_model_version", "create_model_version",
        "set_registered_model_alias", "set_registered_model_alias", "transition_model_version_stage",
        "rename_registered_model", "delete_registered_model",
    ]
    assert {e.user_id for e in entries[:-1]} == {"alice"}
    assert entries[-1].user_id  # the OS user, in process
    update, moved, staged = entries[1], entries[5], entries[6]
    assert (update.key, update.old_value, update.new_value) == ("description", "v0", "v1")
    assert (moved.key, moved.old_value, moved.new_value) == ("champion", "1", "2")
    assert (staged.version, staged.old_value, staged.new_value) == ("2", "None", "Production")
    assert all(a.timestamp <= b.timestamp for a, b in itertools.pairwise(entries))
    # The whole history is found under either name.
    assert [e.action for e in reg.audit("m").items] == [e.action for e in entries]
    assert len(reg.audit("m2", max_results=4).items) == 4
