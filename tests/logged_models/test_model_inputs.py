"""Logged models as run inputs (``runs/log-inputs`` ``models``), through the official client and our SDK."""

from __future__ import annotations

import pytest
from mlflow.entities import Dataset, DatasetInput, LoggedModelInput
from mlflow.exceptions import MlflowException

from modelyard.client import Client
from modelyard.entities import LoggedModelInput as OurInput

from .conftest import assert_error


def test_models_logged_as_inputs_come_back_on_the_run(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    first = client.create_logged_model(experiment_id, name="a")
    second = client.create_logged_model(experiment_id, name="b")
    client.log_inputs(run_id, datasets=None, models=[LoggedModelInput(first.model_id)])
    client.log_inputs(run_id, models=[LoggedModelInput(second.model_id), LoggedModelInput(first.model_id)])
    run = client.get_run(run_id)
    assert run.inputs.model_inputs == [LoggedModelInput(first.model_id), LoggedModelInput(second.model_id)]
    assert run.inputs.dataset_inputs == []
    found = client.search_runs([experiment_id])
    assert [r.inputs.model_inputs for r in found] == [run.inputs.model_inputs]


def test_models_and_datasets_together(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    model = client.create_logged_model(experiment_id)
    ds = DatasetInput(Dataset("train", "abc123", "local", "file:///data.csv"))
    client.log_inputs(run_id, datasets=[ds], models=[LoggedModelInput(model.model_id)])
    run = client.get_run(run_id)
    assert [d.dataset.name for d in run.inputs.dataset_inputs] == ["train"]
    assert [m.model_id for m in run.inputs.model_inputs] == [model.model_id]


def test_an_unknown_model_is_refused_and_nothing_is_written(client, experiment_id, http):
    run_id = client.create_run(experiment_id).info.run_id
    model = client.create_logged_model(experiment_id)
    with pytest.raises(MlflowException) as info:
        client.log_inputs(run_id, models=[LoggedModelInput(model.model_id), LoggedModelInput("m-" + "0" * 32)])
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert client.get_run(run_id).inputs.model_inputs == []
    resp = http.post("/api/2.0/mlflow/runs/log-inputs", json={"run_id": run_id, "models": [{}]})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE", mentions="models[0].model_id")
    resp = http.post("/api/2.0/mlflow/runs/log-inputs", json={"run_id": run_id, "models": [{"model_id": "m\x00" * 3}]})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE", mentions="models[0].model_id")
    client.delete_logged_model(model.model_id)
    with pytest.raises(MlflowException) as info:
        client.log_inputs(run_id, models=[LoggedModelInput(model.model_id)])
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_our_sdk_logs_and_reads_model_inputs(client, server, experiment_id):
    model = client.create_logged_model(experiment_id)
    with Client(server.url) as ours:
        run_id = ours.create_run(experiment_id).info.run_id
        ours.log_inputs(run_id, models=[OurInput(model.model_id)])
        assert ours.get_run(run_id).inputs.model_inputs == [OurInput(model.model_id)]
    assert client.get_run(run_id).inputs.model_inputs == [LoggedModelInput(model.model_id)]
