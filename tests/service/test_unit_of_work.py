"""One unit of work across tables (SQLite and PostgreSQL): service calls made inside
``svc.unit_of_work()`` are all stored or none; a point linked to an unknown logged model
stores nothing of its batch, in process and through a real server."""

from __future__ import annotations

import uuid

import httpx
import pytest

from modelyard.entities import Metric, Param, RunTag
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist


def _registered(service, run_id: str) -> None:
    service.registry.create_registered_model("churn")
    for _ in range(2):
        service.registry.create_model_version("churn", f"runs:/{run_id}/model", run_id=run_id)
    service.registry.set_registered_model_alias("churn", "champion", "1")


def _bad_step(pipeline_run: str) -> dict:
    return {"pipeline_run_uuid": pipeline_run, "task_key": "train", "step": "train", "run_uuid": uuid.uuid4().hex,
            "status": "NOT-A-STATUS", "experiment_id": "0"}


def _step(pipeline_run: str) -> dict:
    return {"pipeline_run_uuid": pipeline_run, "task_key": "load", "step": "load", "run_uuid": uuid.uuid4().hex,
            "status": "FINISHED", "experiment_id": "0", "metrics": [["rows", 3.0, 1, 0]]}


def test_calls_across_tables_are_stored_all_or_none(service):
    run_id = service.runs.create("0", run_name="train").info.run_id
    _registered(service, run_id)
    step = _step(run_id)
    with pytest.raises(InvalidParameterValue, match="status"), service.unit_of_work():
        service.runs.log_batch(run_id, [Metric("loss", 0.5, 1, 0)], [Param("lr", "0.1")], [RunTag("t", "v")])
        service.registry.set_registered_model_alias("churn", "champion", "2")
        service.pipelines.record({"pipeline_run": {"run_uuid": run_id, "pipeline": "p"}, "steps": [step]})
        service.pipelines.record({"steps": [_bad_step(run_id)]})  # the last call fails: nothing stays
    run = service.runs.get(run_id)
    assert run.data.metrics == {} and run.data.params == {} and "t" not in run.data.tags
    assert service.registry.get_model_version_by_alias("churn", "champion").version == "1"
    with pytest.raises(ResourceDoesNotExist):
        service.pipelines.get_run(run_id)
    with pytest.raises(ResourceDoesNotExist):
        service.runs.get(step["run_uuid"])

    with service.unit_of_work():  # the same calls, none failing: all of them stored
        service.runs.log_batch(run_id, [Metric("loss", 0.5, 1, 0)], [Param("lr", "0.1")], [RunTag("t", "v")])
        service.registry.set_registered_model_alias("churn", "champion", "2")
        service.pipelines.record({"pipeline_run": {"run_uuid": run_id, "pipeline": "p"}, "steps": [step]})
    run = service.runs.get(run_id)
    assert run.data.metrics == {"loss": 0.5} and run.data.params == {"lr": "0.1"} and run.data.tags["t"] == "v"
    assert service.registry.get_model_version_by_alias("churn", "champion").version == "2"
    assert [s["task_key"] for s in service.pipelines.get_run(run_id)["steps"]] == ["load"]
    assert service.runs.get(step["run_uuid"]).data.metrics == {"rows": 3.0}


def test_a_call_that_fails_inside_a_unit_undoes_only_its_own_writes(service):
    """Each call inside is a savepoint: a caller that handles the failure keeps the rest."""
    run_id = service.runs.create("0").info.run_id
    with service.unit_of_work():
        service.runs.log_param(run_id, Param("a", "1"))
        with pytest.raises(InvalidParameterValue, match="Changing param values"):
            service.runs.log_batch(run_id, [Metric("loss", 1.0, 1, 0)], [Param("b", "2"), Param("a", "other")])
        service.runs.set_tag(run_id, RunTag("after", "yes"))
    run = service.runs.get(run_id)
    assert run.data.params == {"a": "1"} and run.data.metrics == {} and run.data.tags["after"] == "yes"


def test_units_nest_and_reads_inside_see_the_units_writes(service):
    run_id = service.runs.create("0").info.run_id
    with pytest.raises(RuntimeError), service.unit_of_work():
        with service.unit_of_work():
            service.runs.log_metric(run_id, Metric("m", 1.0, 1, 0))
        assert service.runs.get(run_id).data.metrics == {"m": 1.0}
        assert [m.value for m in service.runs.metric_history(run_id, "m").items] == [1.0]
        raise RuntimeError("the caller gives up")
    assert service.runs.get(run_id).data.metrics == {}
    # Metric keys interned inside the rolled-back unit are forgotten, and work afterwards.
    service.runs.log_metric(run_id, Metric("m", 2.0, 2, 0))
    assert [m.value for m in service.runs.metric_history(run_id, "m").items] == [2.0]


def test_experiment_delete_takes_its_runs_in_one_unit(service):
    exp = service.experiments.create("gone")
    run_id = service.runs.create(exp).info.run_id
    service.experiments.delete(exp)
    assert service.runs.get(run_id).info.lifecycle_stage == "deleted"
    service.experiments.restore(exp)
    assert service.runs.get(run_id).info.lifecycle_stage == "active"


def test_a_point_linked_to_an_unknown_model_stores_nothing(service):
    run_id = service.runs.create("0").info.run_id
    model = service.logged_models.create("0", name="m", source_run_id=run_id)
    points = [Metric("acc", 0.9, 1, 0), Metric("acc", 0.8, 1, 1, model_id="m-missing")]
    with pytest.raises(ResourceDoesNotExist, match="m-missing"):
        service.runs.log_batch(run_id, points, [Param("p", "1")])
    with pytest.raises(ResourceDoesNotExist, match="m-missing"):
        service.runs.log_metric(run_id, Metric("one", 1.0, 1, 0, model_id="m-missing"))
    run = service.runs.get(run_id)
    assert run.data.metrics == {} and run.data.params == {}
    assert service.runs.metric_history(run_id, "acc").items == []
    # A known model: the run keeps the point and the model is linked to it, by the service alone.
    service.runs.log_metric(run_id, Metric("acc", 0.7, 1, 2, model_id=model.model_id))
    assert service.runs.get(run_id).data.metrics == {"acc": 0.7}
    assert [m.value for m in service.logged_models.get(model.model_id).metrics] == [0.7]


def test_log_batch_with_an_unknown_model_id_over_http_is_404_and_stores_nothing(live_server):
    api = f"{live_server.url}/api/2.0/mlflow"
    with httpx.Client(timeout=60) as http:
        run_id = http.post(f"{api}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]["run_id"]
        batch = {"run_id": run_id, "params": [{"key": "p", "value": "1"}], "metrics": [
            {"key": "acc", "value": 0.9, "timestamp": 1, "step": 0},
            {"key": "acc", "value": 0.8, "timestamp": 1, "step": 1, "model_id": "m-missing"}]}
        answer = http.post(f"{api}/runs/log-batch", json=batch)
        assert answer.status_code == 404 and answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert "m-missing" in answer.json()["message"]
        one = {"run_id": run_id, "key": "x", "value": 1, "timestamp": 1, "model_id": "m-missing"}
        assert http.post(f"{api}/runs/log-metric", json=one).status_code == 404
        run = http.get(f"{api}/runs/get", params={"run_id": run_id}).json()["run"]
        assert not run["data"].get("metrics") and not run["data"].get("params")


def test_the_embedded_sdk_links_model_points_through_the_service(tmp_path):
    from modelyard.client import Client

    with Client(str(tmp_path / "store")) as sdk:
        run_id = sdk.create_run("0").info.run_id
        model = sdk.create_logged_model("0", name="m", source_run_id=run_id)
        sdk.log_batch(run_id, [Metric("acc", 0.9, 1, 0, model_id=model.model_id)])
        assert [m.value for m in sdk.get_logged_model(model.model_id).metrics] == [0.9]
        with pytest.raises(ResourceDoesNotExist, match="m-missing"):
            sdk.log_batch(run_id, [Metric("acc", 0.8, 2, 1, model_id="m-missing")], [Param("p", "1")])
        run = sdk.get_run(run_id)
        assert run.data.metrics == {"acc": 0.9} and run.data.params == {}
