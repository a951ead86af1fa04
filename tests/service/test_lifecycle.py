"""Experiment and run rules of the service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from modelyard.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunStatus, RunTag, ViewType
from modelyard.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist


def test_default_experiment_exists_and_cannot_be_deleted(service):
    exp = service.experiments.get("0")
    assert exp.name == "Default"
    with pytest.raises(InvalidParameterValue, match="default experiment"):
        service.experiments.delete("0")


def test_experiment_names_are_unique_and_validated(service):
    service.experiments.create("a")
    with pytest.raises(ResourceAlreadyExists):
        service.experiments.create("a")
    with pytest.raises(InvalidParameterValue, match="experiment name"):
        service.experiments.create("")
    with pytest.raises(InvalidParameterValue, match="maximum length of 500"):
        service.experiments.create("x" * 501)


def test_experiment_delete_restore_rename_and_tags(service):
    eid = service.experiments.create("life", tags={"team": "ml"})
    run_id = service.runs.create(eid).info.run_id
    service.experiments.delete(eid)
    assert service.experiments.get(eid).lifecycle_stage == "deleted"
    assert service.runs.get(run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(InvalidParameterValue, match="non-active"):
        service.experiments.rename(eid, "other")
    deleted = service.experiments.search(view_type=ViewType.DELETED_ONLY).items
    assert [e.experiment_id for e in deleted] == [eid]
    service.experiments.restore(eid)
    assert service.runs.get(run_id).info.lifecycle_stage == "active"
    service.experiments.rename(eid, "renamed")
    assert service.experiments.get_by_name("renamed").tags == {"team": "ml"}
    service.experiments.set_tag(eid, "k", "v")
    service.experiments.delete_tag(eid, "team")
    assert service.experiments.get(eid).tags == {"k": "v"}
    with pytest.raises(ResourceDoesNotExist):
        service.experiments.delete_tag(eid, "team")


def test_missing_things_are_404s(service):
    with pytest.raises(ResourceDoesNotExist):
        service.experiments.get("12345")
    with pytest.raises(ResourceDoesNotExist):
        service.runs.get("0" * 32)
    with pytest.raises(InvalidParameterValue, match="Experiment ID must be a valid integer"):
        service.experiments.get("abc")


def test_run_names_tags_and_update(service):
    eid = service.experiments.create("runs")
    run = service.runs.create(eid, run_name="first", tags={"a": "1"})
    assert run.info.run_name == "first"
    assert run.data.tags["mlflow.runName"] == "first"
    anonymous = service.runs.create(eid)
    assert anonymous.info.run_name.count("-") == 2  # adjective-animal-number
    info = service.runs.update(run.info.run_id, status=RunStatus.FINISHED, end_time=123, run_name="renamed")
    assert (info.status, info.end_time, info.run_name) == ("FINISHED", 123, "renamed")
    assert service.runs.get(run.info.run_id).data.tags["mlflow.runName"] == "renamed"
    service.runs.set_tag(run.info.run_id, RunTag("mlflow.runName", "via-tag"))
    assert service.runs.get(run.info.run_id).info.run_name == "via-tag"
    with pytest.raises(InvalidParameterValue, match="status"):
        service.runs.update(run.info.run_id, status="DONE")


def test_deleted_run_refuses_writes_until_restored(service):
    eid = service.experiments.create("del")
    run_id = service.runs.create(eid).info.run_id
    service.runs.delete(run_id)
    with pytest.raises(InvalidParameterValue, match="must be in the 'active' state"):
        service.runs.log_batch(run_id, [Metric("m", 1.0, 1, 0)])
    assert service.runs.search([eid]).items == []
    assert [r.info.run_id for r in service.runs.search([eid], run_view_type=ViewType.DELETED_ONLY).items] == [run_id]
    service.runs.restore(run_id)
    service.runs.log_batch(run_id, [Metric("m", 1.0, 1, 0)])


def test_limits_are_mlflows(service):
    eid = service.experiments.create("limits")
    run_id = service.runs.create(eid).info.run_id
    with pytest.raises(InvalidParameterValue, match="maximum length of 250"):
        service.runs.log_param(run_id, Param("k" * 251, "v"))
    with pytest.raises(InvalidParameterValue, match="maximum length of 6000"):
        service.runs.log_param(run_id, Param("k", "v" * 6001))
    with pytest.raises(InvalidParameterValue, match="maximum length of 8000"):
        service.runs.set_tag(run_id, RunTag("k", "v" * 8001))
    with pytest.raises(InvalidParameterValue, match="at most 100 params"):
        service.runs.log_batch(run_id, params=[Param(f"p{i}", "v") for i in range(101)])
    with pytest.raises(InvalidParameterValue, match="would resolve to"):
        service.runs.log_param(run_id, Param("../etc", "v"))
    with pytest.raises(InvalidParameterValue, match="timestamp"):
        service.runs.log_metric(run_id, Metric("m", 1.0, -1, 0))
    with pytest.raises(InvalidParameterValue, match="value"):
        service.runs.log_metric(run_id, Metric("m", "high", 1, 0))  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterValue, match="max_results"):
        service.runs.search([eid], max_results=50_001)
    run = service.runs.get(run_id)
    assert run.data.params == {} and run.data.metrics == {}


def test_delete_tag(service):
    eid = service.experiments.create("tags")
    run_id = service.runs.create(eid).info.run_id
    service.runs.set_tag(run_id, RunTag("t", "v"))
    service.runs.delete_tag(run_id, "t")
    assert "t" not in service.runs.get(run_id).data.tags
    with pytest.raises(ResourceDoesNotExist, match="No tag with name: t"):
        service.runs.delete_tag(run_id, "t")


def test_log_inputs_dedups_datasets_per_experiment(service):
    eid = service.experiments.create("inputs")
    ds = Dataset("cancer", "abcd1234", "code", "{}", '{"mlflow_colspec": []}', '{"num_rows": 3}')
    runs = [service.runs.create(eid).info.run_id for _ in range(2)]
    for rid in runs:
        service.runs.log_inputs(rid, [DatasetInput(ds, [InputTag("mlflow.data.context", "training")])])
        service.runs.log_inputs(rid, [DatasetInput(ds, [InputTag("mlflow.data.context", "training")])])
    for rid in runs:
        inputs = service.runs.get(rid).inputs.dataset_inputs
        assert len(inputs) == 1
        assert inputs[0].dataset.name == "cancer"
        assert inputs[0].tags == [InputTag("mlflow.data.context", "training")]
    with pytest.raises(InvalidParameterValue, match=r"datasets\[0\].dataset.digest"):
        service.runs.log_inputs(runs[0], [DatasetInput(Dataset("n", "", "code", "{}"))])


def test_page_tokens_beyond_any_offset_are_refused(service):
    import base64
    import json

    eid = service.experiments.create("tokens")
    token = base64.b64encode(json.dumps({"offset": 10**30}).encode()).decode()
    with pytest.raises(InvalidParameterValue, match="page token"):
        service.runs.search([eid], page_token=token)
