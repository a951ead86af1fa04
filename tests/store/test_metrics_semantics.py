"""MLflow's metric semantics in the store: dedup, 'latest' ordering, NaN/inf, folding."""

from __future__ import annotations

import math

import pytest

from modelyard.entities import Metric
from modelyard.errors import InvalidParameterValue


@pytest.fixture
def run_id(service):
    exp = service.experiments.create("semantics")
    return service.runs.create(exp).info.run_id


def test_identical_points_are_stored_once(service, run_id):
    points = [Metric("loss", 0.5, 100, 1)] * 3
    service.runs.log_batch(run_id, points)
    service.runs.log_batch(run_id, points)
    history = service.runs.metric_history(run_id, "loss").items
    assert [(m.step, m.timestamp, m.value) for m in history] == [(1, 100, 0.5)]


def test_latest_is_highest_step_then_timestamp_then_value_not_last_write(service, run_id):
    service.runs.log_batch(run_id, [Metric("m", 9.0, 500, 3)])
    service.runs.log_batch(run_id, [Metric("m", 1.0, 900, 2)])  # later write, lower step
    assert service.runs.get(run_id).data.metrics["m"] == 9.0
    service.runs.log_batch(run_id, [Metric("m", 2.0, 600, 3)])  # same step, newer timestamp
    assert service.runs.get(run_id).data.metrics["m"] == 2.0
    service.runs.log_batch(run_id, [Metric("m", 5.0, 600, 3)])  # same step and time, larger value
    assert service.runs.get(run_id).data.metrics["m"] == 5.0
    service.runs.log_batch(run_id, [Metric("m", 4.0, 600, 3)])  # smaller value does not win
    assert service.runs.get(run_id).data.metrics["m"] == 5.0


def test_batch_touching_one_key_twice_is_folded(service, run_id):
    batch = [Metric("k", float(v), 1000 + v, v) for v in (3, 7, 5)]
    service.runs.log_batch(run_id, batch)
    run = service.runs.get(run_id)
    assert run.data.metrics["k"] == 7.0
    assert len(service.runs.metric_history(run_id, "k").items) == 3


def test_nan_and_infinities_round_trip(service, run_id):
    service.runs.log_batch(
        run_id,
        [Metric("nan", math.nan, 1, 0), Metric("pinf", math.inf, 1, 0), Metric("ninf", -math.inf, 1, 0)],
    )
    metrics = service.runs.get(run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["pinf"] == math.inf
    assert metrics["ninf"] == -math.inf
    history = service.runs.metric_history(run_id, "nan").items
    assert len(history) == 1 and math.isnan(history[0].value)


def test_history_is_ordered_by_step_and_pages(service, run_id):
    service.runs.log_batch(run_id, [Metric("h", float(s), 10, s) for s in reversed(range(50))])
    page1 = service.runs.metric_history(run_id, "h", max_results=20)
    assert [m.step for m in page1.items] == list(range(20))
    page2 = service.runs.metric_history(run_id, "h", max_results=20, page_token=page1.next_page_token)
    page3 = service.runs.metric_history(run_id, "h", max_results=20, page_token=page2.next_page_token)
    assert [m.step for m in page2.items + page3.items] == list(range(20, 50))
    assert page3.next_page_token is None


def test_rejected_batch_writes_nothing(service, run_id):
    good = [Metric("ok", 1.0, 1, 0)]
    with pytest.raises(InvalidParameterValue, match="at most 1000 metrics"):
        service.runs.log_batch(run_id, good + [Metric("x", 1.0, 1, i) for i in range(1000)])
    with pytest.raises(InvalidParameterValue, match=r"metrics\[1\]"):
        service.runs.log_batch(run_id, good + [Metric("bad key!", 1.0, 1, 0)])
    assert service.runs.get(run_id).data.metrics == {}
    assert service.runs.metric_history(run_id, "ok").items == []


def test_param_conflict_rolls_back_the_whole_batch(service, run_id):
    from modelyard.entities import Param

    service.runs.log_batch(run_id, params=[Param("lr", "0.1")])
    with pytest.raises(InvalidParameterValue, match="Changing param values is not allowed"):
        service.runs.log_batch(run_id, [Metric("after", 1.0, 1, 0)], params=[Param("lr", "0.2")])
    run = service.runs.get(run_id)
    assert run.data.params == {"lr": "0.1"}
    assert "after" not in run.data.metrics
    service.runs.log_batch(run_id, params=[Param("lr", "0.1")])  # same value is fine


def test_params_new_and_already_logged_in_one_batch(service, run_id):
    """A batch's params are checked against those stored whenever one of them was not inserted now."""
    from modelyard.entities import Param

    service.runs.log_batch(run_id, params=[Param("a", "1")])
    service.runs.log_batch(run_id, params=[Param("a", "1"), Param("b", "2")])  # a again, same value: fine
    with pytest.raises(InvalidParameterValue, match="key='a' was already logged with value='1'"):
        service.runs.log_batch(run_id, params=[Param("c", "3"), Param("a", "9")])
    assert service.runs.get(run_id).data.params == {"a": "1", "b": "2"}  # c undone with its batch
    service.runs.log_param(run_id, Param("c", "3"))
    with pytest.raises(InvalidParameterValue, match="key='c' was already logged"):
        service.runs.log_param(run_id, Param("c", "4"))
    assert service.runs.get(run_id).data.params == {"a": "1", "b": "2", "c": "3"}


def test_bulk_interval_samples_like_mlflow(service, run_id):
    service.runs.log_batch(run_id, [Metric("s", float(i), 1, i) for i in range(1000)])
    points = service.runs.metric_history_bulk_interval([run_id], "s", max_results=10)
    steps = [m.step for m in points]
    assert steps == [0, 100, 200, 300, 400, 500, 600, 700, 800, 999]
    assert all(m.run_id == run_id for m in points)
    window = service.runs.metric_history_bulk_interval([run_id], "s", start_step=100, end_step=109)
    assert [m.step for m in window] == list(range(100, 110))


def test_one_point_at_a_time_keeps_the_semantics(service, run_id):
    """log_metric (one point: the run found by the statement that inserts it) dedups, folds the latest
    value and stores NaN as log_batch does; an identical point again leaves the latest as it is."""
    for value, ts, step in ((9.0, 500, 3), (1.0, 900, 2), (2.0, 600, 3), (2.0, 600, 3), (math.nan, 1, 0)):
        service.runs.log_metric(run_id, Metric("m", value, ts, step))
    assert service.runs.get(run_id).data.metrics["m"] == 2.0
    history = service.runs.metric_history(run_id, "m").items
    assert [(m.step, m.timestamp) for m in history] == [(0, 1), (2, 900), (3, 500), (3, 600)]
    assert math.isnan(history[0].value)
    service.runs.log_metric(run_id, Metric("n", math.nan, 1, 0))
    assert math.isnan(service.runs.get(run_id).data.metrics["n"])


def test_one_point_to_a_missing_or_deleted_run_is_refused_and_writes_nothing(service, run_id):
    from modelyard.errors import ResourceDoesNotExist

    with pytest.raises(ResourceDoesNotExist, match="Run with id=0123456789abcdef0123456789abcdef not found"):
        service.runs.log_metric("0123456789abcdef0123456789abcdef", Metric("m", 1.0, 1, 0))
    with pytest.raises(InvalidParameterValue, match="run_id"):
        service.runs.log_metric("not a run id!", Metric("m", 1.0, 1, 0))
    service.runs.delete(run_id)
    with pytest.raises(InvalidParameterValue, match=f"The run {run_id} must be in the 'active' state"):
        service.runs.log_metric(run_id, Metric("m", 1.0, 1, 0))
    service.runs.restore(run_id)
    assert service.runs.get(run_id).data.metrics == {}
    assert service.runs.metric_history(run_id, "m").items == []
    service.runs.log_metric(run_id, Metric("m", 1.0, 1, 0))
    assert service.runs.get(run_id).data.metrics == {"m": 1.0}
