"""Logged-model rules of the service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import math

import pytest

from modelyard.entities import Metric
from modelyard.entities.logged_models import (
    LoggedModel,
    LoggedModelOutput,
    LoggedModelStatus,
)
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist


@pytest.fixture
def exp(service):
    return service.experiments.create("models")


def _search(service, exp, filter_string=None, **kw):
    return [m.name for m in service.logged_models.search([exp], filter_string, **kw).items]


def test_create_get_and_defaults(service, exp):
    run = service.runs.create(exp)
    lm = service.logged_models
    model = lm.create(exp, name="clf", source_run_id=run.info.run_id, tags={"t": "1"}, params={"C": "0.5"},
                      model_type="classifier")
    assert model.model_id.startswith("m-") and len(model.model_id) == 34
    assert model.status == LoggedModelStatus.PENDING
    assert model.experiment_id == exp and model.source_run_id == run.info.run_id
    location = service.experiments.get(exp).artifact_location
    assert model.artifact_location == f"{location}/models/{model.model_id}/artifacts"
    assert (model.tags, model.params, model.model_type) == ({"t": "1"}, {"C": "0.5"}, "classifier")
    assert lm.get(model.model_id) == model
    unnamed = lm.create(exp)
    assert unnamed.name and unnamed.source_run_id is None and unnamed.tags == {}
    assert LoggedModel.from_dict(model.to_dict()) == model


def test_create_rejects_bad_input(service, exp):
    lm = service.logged_models
    for name in ("a/b", "a.b", "a:b", "50%", "it's"):
        with pytest.raises(InvalidParameterValue, match="Invalid model name"):
            lm.create(exp, name=name)
    with pytest.raises(InvalidParameterValue, match="maximum length of 500"):
        lm.create(exp, name="x" * 501)
    with pytest.raises(InvalidParameterValue, match="experiment_id"):
        lm.create(None)
    with pytest.raises(ResourceDoesNotExist):
        lm.create("424242")
    with pytest.raises(ResourceDoesNotExist, match="Run with id"):
        lm.create(exp, source_run_id="0" * 32)
    with pytest.raises(InvalidParameterValue, match="Tag name cannot be empty"):
        lm.create(exp, tags={"": "v"})
    with pytest.raises(InvalidParameterValue, match="params"):
        lm.create(exp, params={"p": "x" * 6001})
    gone = service.experiments.create("gone")
    service.experiments.delete(gone)
    with pytest.raises(InvalidParameterValue, match="active"):
        lm.create(gone)
    assert lm.search([exp]).items == []  # nothing half-made


def test_finalize(service, exp):
    lm = service.logged_models
    model = lm.create(exp, name="m")
    ready = lm.finalize(model.model_id, "LOGGED_MODEL_READY")
    assert ready.status == LoggedModelStatus.READY
    assert ready.last_updated_timestamp >= model.last_updated_timestamp
    assert lm.finalize(model.model_id, 3).status == LoggedModelStatus.FAILED
    assert lm.finalize(model.model_id, "READY").status == LoggedModelStatus.READY
    for bad in ("LOGGED_MODEL_PENDING", "nonsense", 7, None):
        with pytest.raises(InvalidParameterValue):
            lm.finalize(model.model_id, bad)
    with pytest.raises(ResourceDoesNotExist, match="Logged model with ID 'm-nope' not found"):
        lm.finalize("m-nope", "READY")


def test_tags_and_params(service, exp):
    lm = service.logged_models
    model = lm.create(exp, name="m", params={"a": "1"})
    lm.set_tags(model.model_id, {"x": "1", "y": "2"})
    lm.set_tags(model.model_id, {"x": "3"})
    lm.delete_tag(model.model_id, "y")
    with pytest.raises(ResourceDoesNotExist, match="No tag with key 'y'"):
        lm.delete_tag(model.model_id, "y")
    lm.log_params(model.model_id, {"a": "1", "b": "2"})  # same value again: fine
    with pytest.raises(InvalidParameterValue, match="Changing param values is not allowed"):
        lm.log_params(model.model_id, {"b": "3"})
    got = lm.get(model.model_id)
    assert got.tags == {"x": "3"} and got.params == {"a": "1", "b": "2"}
    with pytest.raises(InvalidParameterValue, match="Tag values must be strings"):
        lm.set_tags(model.model_id, {"k": 1})


def test_delete_is_soft_and_idempotent(service, exp):
    lm = service.logged_models
    model = lm.create(exp, name="m")
    lm.delete(model.model_id)
    lm.delete(model.model_id)
    with pytest.raises(ResourceDoesNotExist):
        lm.get(model.model_id)
    assert lm.get(model.model_id, allow_deleted=True).lifecycle_stage == "deleted"
    for call in (lambda: lm.set_tags(model.model_id, {"a": "b"}), lambda: lm.finalize(model.model_id, "READY")):
        with pytest.raises(ResourceDoesNotExist):
            call()
    assert lm.search([exp]).items == []
    with pytest.raises(ResourceDoesNotExist):
        lm.delete("m-" + "0" * 32)


def test_linked_metrics_and_outputs(service, exp):
    lm = service.logged_models
    run_id = service.runs.create(exp).info.run_id
    model = lm.create(exp, name="m", source_run_id=run_id)
    points = [Metric("acc", 0.9, 10, 0, model_id=model.model_id, dataset_name="eval", dataset_digest="d1"),
              Metric("acc", 0.95, 20, 1, model_id=model.model_id), Metric("loss", math.nan, 10, 0, model_id=model.model_id),
              Metric("unlinked", 1.0, 10, 0)]
    lm.link_metrics(run_id, points)
    lm.link_metrics(run_id, points)  # the same points again are stored once
    got = lm.get(model.model_id).metrics
    assert [(m.key, m.step, m.dataset_name, m.run_id, m.model_id) for m in got] == [
        ("acc", 0, "eval", run_id, model.model_id), ("acc", 1, None, run_id, model.model_id),
        ("loss", 0, None, run_id, model.model_id)]
    assert math.isnan(got[2].value)
    with pytest.raises(ResourceDoesNotExist, match="m-missing"):
        lm.link_metrics(run_id, [Metric("acc", 1.0, 1, model_id="m-missing")])
    with pytest.raises(InvalidParameterValue):
        lm.link_metrics(run_id, [Metric("", 1.0, 1, model_id=model.model_id)])
    with pytest.raises(InvalidParameterValue, match="dataset_digest"):
        lm.link_metrics(run_id, [Metric("acc", 1.0, 1, model_id=model.model_id, dataset_name="eval")])

    lm.log_outputs(run_id, [LoggedModelOutput(model.model_id, 0)])
    lm.log_outputs(run_id, [LoggedModelOutput(model.model_id, 0), LoggedModelOutput(model.model_id, 5)])
    assert lm.run_outputs([run_id, "f" * 32]) == {
        run_id: [LoggedModelOutput(model.model_id, 0), LoggedModelOutput(model.model_id, 5)]}
    with pytest.raises(ResourceDoesNotExist):
        lm.log_outputs(run_id, [LoggedModelOutput("m-missing")])
    with pytest.raises(ResourceDoesNotExist, match="Run with id"):
        lm.log_outputs("0" * 32, [LoggedModelOutput(model.model_id)])
    service.runs.delete(run_id)
    with pytest.raises(InvalidParameterValue, match="active"):
        lm.log_outputs(run_id, [LoggedModelOutput(model.model_id)])


@pytest.fixture
def zoo(service, exp):
    """Four models: a..d, with metrics, params, tags and statuses to search on."""
    lm = service.logged_models
    run_id = service.runs.create(exp).info.run_id
    ids = {}
    specs = {"a": (0.5, "lr", "x"), "b": (0.9, "rf", "y"), "c": (0.7, "lr", "y"), "d": (None, "svm", "x")}
    for name, (acc, algo, team) in specs.items():
        model = lm.create(exp, name=name, params={"algo": algo}, tags={"team": team}, model_type=algo)
        ids[name] = model.model_id
        if acc is not None:
            lm.link_metrics(run_id, [Metric("acc", acc, 100, 0, model_id=model.model_id, dataset_name="eval",
                                            dataset_digest="e1"),
                                     Metric("acc", 1 - acc, 50, 0, model_id=model.model_id, dataset_name="train",
                                            dataset_digest="t1")])
    lm.finalize(ids["b"], "READY")
    return ids


def test_search_filters(service, exp, zoo):
    s = lambda f, **kw: sorted(_search(service, exp, f, **kw))
    assert s(None) == ["a", "b", "c", "d"]
    assert s("name = 'a'") == ["a"]
    assert s("name != 'a'") == ["b", "c", "d"]
    assert s("name IN ('a', 'c')") == ["a", "c"] and s("name NOT IN ('a', 'c')") == ["b", "d"]
    assert s("name LIKE 'A%'") == [] and s("name ILIKE 'A%'") == ["a"]
    assert s("metrics.acc > 0.6") == ["b", "c"]  # any point passes: train 0.5 for a fails, eval 0.7 for c passes
    assert s("metrics.acc >= 0.5") == ["a", "b", "c"]
    assert s("metrics.acc > 0.6", datasets=[{"dataset_name": "train"}]) == []
    assert s("metrics.acc < 0.4", datasets=[{"dataset_name": "train"}]) == ["b", "c"]
    assert s(None, datasets=[{"dataset_name": "eval", "dataset_digest": None}]) == ["a", "b", "c"]
    assert s(None, datasets=[{"dataset_name": "eval", "dataset_digest": "nope"}]) == []
    assert s("params.algo = 'lr'") == ["a", "c"]
    assert s("params.algo = 'lr' AND tags.team = 'y'") == ["c"]
    assert s("tags.team IN ('x')") == ["a", "d"]
    assert s("status = 'READY'") == ["b"] and s("status = 'LOGGED_MODEL_PENDING'") == ["a", "c", "d"]
    assert s("model_type = 'svm'") == ["d"]
    assert s(f"model_id = '{zoo['c']}'") == ["c"]
    assert s("creation_timestamp_ms > 0") == ["a", "b", "c", "d"] and s("creation_time < 0") == []


@pytest.mark.parametrize("bad", [
    "metrics.acc > 'x'", "name > 'a'", "foo = 'a'", "datasets.name = 'a'", "params.a IS NULL",
    "name = 'a' OR name = 'b'", "metrics.acc LIKE 0.1", "name = 'a' AND",
])
def test_search_rejects_bad_filters(service, exp, bad):
    with pytest.raises(InvalidParameterValue):
        service.logged_models.search([exp], bad)


def test_search_order_and_pages(service, exp, zoo):
    order = lambda *o: _search(service, exp, order_by=list(o))
    assert order() == ["d", "c", "b", "a"]  # newest first
    assert order({"field_name": "name"}) == ["a", "b", "c", "d"]
    assert order({"field_name": "name", "ascending": False}) == ["d", "c", "b", "a"]
    # Latest point of the key (eval, at timestamp 100); models without it last in both directions.
    assert order({"field_name": "metrics.acc", "ascending": False}) == ["b", "c", "a", "d"]
    assert order({"field_name": "metrics.acc"}) == ["a", "c", "b", "d"]
    assert order({"field_name": "metrics.acc", "dataset_name": "train"}) == ["b", "c", "a", "d"]
    assert order({"field_name": "creation_timestamp"}) == ["a", "b", "c", "d"]
    for bad in ({"field_name": "params.algo"}, {"field_name": "nope"}, {"field_name": "name", "dataset_name": "x"},
                {"field_name": "metrics.acc", "dataset_digest": "d"}):
        with pytest.raises(InvalidParameterValue):
            order(bad)

    lm = service.logged_models
    by_name = [{"field_name": "name"}]
    first = lm.search([exp], None, max_results=3, order_by=by_name)
    assert [m.name for m in first.items] == ["a", "b", "c"] and first.next_page_token
    second = lm.search([exp], None, max_results=3, order_by=by_name, page_token=first.next_page_token)
    assert [m.name for m in second.items] == ["d"] and second.next_page_token is None
    with pytest.raises(InvalidParameterValue, match="another search"):
        lm.search([exp], "name = 'a'", max_results=3, order_by=by_name, page_token=first.next_page_token)
    for bad in ("nope", "e30="):
        with pytest.raises(InvalidParameterValue, match="page token"):
            lm.search([exp], page_token=bad)
    with pytest.raises(InvalidParameterValue, match="max_results"):
        lm.search([exp], max_results=0)
    with pytest.raises(InvalidParameterValue, match="experiment_ids"):
        lm.search([])
    with pytest.raises(InvalidParameterValue, match="dataset_name"):
        lm.search([exp], datasets=[{"dataset_digest": "x"}])
