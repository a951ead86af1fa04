"""The logged-models API through the official ``MlflowClient``, and raw HTTP errors."""

from __future__ import annotations

import pytest
from mlflow.entities import LoggedModelOutput, LoggedModelStatus, Metric
from mlflow.exceptions import MlflowException

from .conftest import assert_error, unique

MISSING = "m-" + "0" * 32


def test_create_get_finalize(client, experiment_id):
    run = client.create_run(experiment_id)
    model = client.create_logged_model(
        experiment_id, name="clf", source_run_id=run.info.run_id, tags={"team": "a"},
        params={"C": "1.0"}, model_type="classifier",
    )
    assert model.model_id.startswith("m-") and model.name == "clf"
    assert model.status == LoggedModelStatus.PENDING
    assert model.tags == {"team": "a"} and model.params == {"C": "1.0"}
    assert model.model_type == "classifier" and model.source_run_id == run.info.run_id
    assert model.artifact_location == f"mlflow-artifacts:/{experiment_id}/models/{model.model_id}/artifacts"
    assert model.model_uri == f"models:/{model.model_id}"
    got = client.get_logged_model(model.model_id)
    assert (got.model_id, got.creation_timestamp, got.tags) == (model.model_id, model.creation_timestamp, model.tags)
    ready = client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    assert ready.status == LoggedModelStatus.READY
    failed = client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
    assert failed.status == LoggedModelStatus.FAILED
    assert client.create_logged_model(experiment_id).name  # a generated name


def test_many_params_take_several_requests(client, experiment_id):
    params = {f"p{i}": str(i) for i in range(250)}
    model = client.create_logged_model(experiment_id, params=params)
    assert client.get_logged_model(model.model_id).params == params


def test_tags_params_and_delete(client, experiment_id):
    model = client.create_logged_model(experiment_id, name="m")
    client.set_logged_model_tags(model.model_id, {"a": "1", "b": 2})
    client.set_logged_model_tags(model.model_id, {"a": "3"})
    client.delete_logged_model_tag(model.model_id, "b")
    client.log_model_params(model.model_id, {"lr": "0.1"})
    got = client.get_logged_model(model.model_id)
    assert got.tags == {"a": "3"} and got.params == {"lr": "0.1"}
    with pytest.raises(MlflowException) as info:
        client.delete_logged_model_tag(model.model_id, "b")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException, match="Changing param values"):
        client.log_model_params(model.model_id, {"lr": "0.2"})
    client.delete_logged_model(model.model_id)
    with pytest.raises(MlflowException) as info:
        client.get_logged_model(model.model_id)
    assert info.value.get_http_status_code() == 404
    assert client.search_logged_models([experiment_id]).to_list() == []


def test_search(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    made = {}
    for name, acc, algo in (("a", 0.5, "lr"), ("b", 0.9, "rf"), ("c", 0.7, "lr")):
        made[name] = client.create_logged_model(experiment_id, name=name, params={"algo": algo}).model_id
        client.log_batch(run_id, metrics=[Metric("acc", acc, 1, 0, model_id=made[name], dataset_name="eval",
                                                        dataset_digest="e1")])
    client.finalize_logged_model(made["b"], LoggedModelStatus.READY)

    def names(filter_string=None, **kw):
        return [m.name for m in client.search_logged_models([experiment_id], filter_string, **kw)]

    assert names() == ["c", "b", "a"]
    assert names("name = 'b'") == ["b"]
    assert names("params.algo = 'lr'", order_by=[{"field_name": "name"}]) == ["a", "c"]
    assert names("status = 'READY'") == ["b"]
    by_acc = [{"field_name": "metrics.acc", "ascending": False, "dataset_name": "eval"}]
    assert names(order_by=by_acc) == ["b", "c", "a"]
    assert names("metrics.acc > 0.6", datasets=[{"dataset_name": "eval"}]) == ["c", "b"]
    page = client.search_logged_models([experiment_id], max_results=2, order_by=[{"field_name": "name"}])
    assert [m.name for m in page] == ["a", "b"] and page.token
    rest = client.search_logged_models([experiment_id], max_results=2, order_by=[{"field_name": "name"}],
                                       page_token=page.token)
    assert [m.name for m in rest] == ["c"] and not rest.token
    model = client.get_logged_model(made["b"])
    assert [(m.key, m.value, m.dataset_name, m.run_id) for m in model.metrics] == [("acc", 0.9, "eval", run_id)]
    with pytest.raises(MlflowException) as info:
        client.search_logged_models([experiment_id], "metrics.acc > 'high'")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_log_outputs(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    model = client.create_logged_model(experiment_id, source_run_id=run_id)
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=3)])
    outputs = client.get_run(run_id).outputs.model_outputs
    assert [(o.model_id, o.step) for o in outputs] == [(model.model_id, 3)]
    with pytest.raises(MlflowException) as info:
        client.log_outputs(run_id, [LoggedModelOutput(MISSING, step=0)])
    assert info.value.get_http_status_code() == 404


def test_errors_over_http(http, experiment_id):
    api = "/api/2.0/mlflow/logged-models"
    for method, path in (("GET", f"{api}/{MISSING}"), ("PATCH", f"{api}/{MISSING}"),
                         ("DELETE", f"{api}/{MISSING}"), ("PATCH", f"{api}/{MISSING}/tags"),
                         ("DELETE", f"{api}/{MISSING}/tags/k"), ("POST", f"{api}/{MISSING}/params"),
                         ("GET", f"{api}/{MISSING}/artifacts/directories")):
        body = {"status": "LOGGED_MODEL_READY"} if method == "PATCH" else None
        assert_error(http.request(method, path, json=body), 404, "RESOURCE_DOES_NOT_EXIST", mentions=MISSING)
    assert_error(http.post(api, json={}), 400, "INVALID_PARAMETER_VALUE", mentions="experiment_id")
    assert_error(http.post(api, json={"experiment_id": "424242"}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(http.post(api, json={"experiment_id": experiment_id, "name": "a/b"}), 400,
                 "INVALID_PARAMETER_VALUE", mentions="Invalid model name")
    assert_error(http.post(api, json={"experiment_id": experiment_id, "tags": "x"}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(http.post(api, content=b"{nope", headers={"Content-Type": "application/json"}), 400,
                 "MALFORMED_REQUEST")
    model_id = http.post(api, json={"experiment_id": experiment_id}).json()["model"]["info"]["model_id"]
    assert_error(http.patch(f"{api}/{model_id}", json={"status": "LOGGED_MODEL_PENDING"}), 400,
                 "INVALID_PARAMETER_VALUE")
    assert_error(http.patch(f"{api}/{model_id}", json={}), 400, "INVALID_PARAMETER_VALUE", mentions="status")
    # The status as its enum number, as protobuf JSON also allows.
    assert http.patch(f"{api}/{model_id}", json={"status": 2}).json()["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    assert_error(http.post(f"{api}/search", json={"experiment_ids": [experiment_id], "filter": "foo = 1"}), 400,
                 "INVALID_PARAMETER_VALUE", mentions="Invalid attribute key")
    assert_error(http.post(f"{api}/search", json={"experiment_ids": [experiment_id], "page_token": "bad"}), 400,
                 "INVALID_PARAMETER_VALUE", mentions="page token")
    assert_error(http.post("/api/2.0/mlflow/runs/outputs", json={"models": []}), 400, "INVALID_PARAMETER_VALUE")
    deleted = http.post(api, json={"experiment_id": experiment_id}).json()["model"]["info"]["model_id"]
    assert http.delete(f"{api}/{deleted}").status_code == 200
    assert_error(http.get(f"{api}/{deleted}"), 404, "RESOURCE_DOES_NOT_EXIST")
    shown = http.get(f"{api}/{deleted}", params={"allow_deleted": "true"})
    assert shown.status_code == 200 and shown.json()["model"]["info"]["model_id"] == deleted
    ajax = http.get(f"/ajax-api/2.0/mlflow/logged-models/{model_id}")
    assert ajax.status_code == 200 and ajax.json()["model"]["info"]["model_id"] == model_id
    assert http.get(f"/api/2.0/mlflow/logged-models/{unique('x')}").status_code == 404
