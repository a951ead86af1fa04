"""Big metric batches (COPY on PostgreSQL): points already stored, repeated ones, NaN, same transaction."""

from __future__ import annotations

import math

import pytest

from modelyard.entities import Metric, Param
from modelyard.entities.metric_columns import MetricColumns
from modelyard.service.limits import MAX_BULK_METRICS
from modelyard.store.pg_copy import copy_new_rows

N = 600  # above the store's COPY threshold


@pytest.fixture
def run_id(service):
    exp = service.experiments.create("bulk")
    return service.runs.create(exp).info.run_id


def _history(service, run_id, key):
    return [(m.step, m.timestamp, m.value) for m in service.runs.metric_history(run_id, key).items]


def test_a_resent_batch_is_stored_once(service, run_id):
    batch = [Metric("loss", float(i), 1000 + i, i) for i in range(N)]
    service.runs.log_batch(run_id, batch)
    service.runs.log_batch(run_id, batch)  # a retry whose answer was lost
    assert _history(service, run_id, "loss") == [(i, 1000 + i, float(i)) for i in range(N)]
    assert service.runs.get(run_id).data.metrics["loss"] == float(N - 1)


def test_a_batch_overlapping_stored_points_adds_only_the_new_ones(service, run_id):
    service.runs.log_batch(run_id, [Metric("acc", 0.5, 7, i) for i in range(0, N, 2)])
    service.runs.log_batch(
        run_id, [Metric("acc", 0.5, 7, i) for i in range(N)], params=[Param("lr", "0.1")]
    )
    assert _history(service, run_id, "acc") == [(i, 7, 0.5) for i in range(N)]
    run = service.runs.get(run_id)
    assert run.data.params == {"lr": "0.1"}  # written before the metrics, in the same transaction
    assert run.data.metrics["acc"] == 0.5


def test_points_repeated_inside_one_batch_are_stored_once(service, run_id):
    batch = [Metric("m", float(i % 100), 5, i % 100) for i in range(N)]
    service.runs.log_batch(run_id, batch)
    assert _history(service, run_id, "m") == [(i, 5, float(i)) for i in range(100)]


def test_a_latest_point_folded_from_a_duplicate_batch_is_right(service, run_id):
    service.runs.log_batch(run_id, [Metric("m", 9.0, 1, N)])
    batch = [Metric("m", float(i), 2, i) for i in range(N)] + [Metric("m", 9.0, 1, N)]
    service.runs.log_batch(run_id, batch)
    assert service.runs.get(run_id).data.metrics["m"] == 9.0
    service.runs.log_batch(run_id, [*batch, Metric("m", 3.0, 1, N + 1)])
    assert service.runs.get(run_id).data.metrics["m"] == 3.0
    assert len(_history(service, run_id, "m")) == N + 2


def test_columns_with_nan_and_infinities_in_bulk(service, run_id):
    values = [math.nan if i % 3 == 0 else (math.inf if i % 3 == 1 else -1.5) for i in range(N)]
    series = [("x", values, [10] * N, list(range(N))), ("y", [float(i) for i in range(N)], [10] * N, list(range(N)))]
    for _ in range(2):  # the second time every point is already stored
        service.runs.log_batch(run_id, MetricColumns(series), max_metrics=MAX_BULK_METRICS)
    history = service.runs.metric_history(run_id, "x").items
    assert len(history) == N
    assert all(math.isnan(m.value) for m in history[0::3])
    assert all(m.value == math.inf for m in history[1::3])
    assert all(m.value == -1.5 for m in history[2::3])
    metrics = service.runs.get(run_id).data.metrics
    assert metrics["x"] == -1.5 and metrics["y"] == float(N - 1)  # step N-1 holds -1.5 (N-1 ≡ 2 mod 3)



def test_copy_of_a_stored_row_writes_nothing_and_keeps_the_transaction(pg_db):
    cols, types = ("a", "b"), ("int4", "text")
    with pg_db.fast_write() as tx:
        tx.execute("CREATE TABLE probe (a int PRIMARY KEY, b text)")
    with pg_db.fast_write() as tx:
        assert copy_new_rows(tx.cur, "probe", cols, types, [(1, "one"), (2, "two")])
    with pg_db.fast_write() as tx:
        tx.execute("INSERT INTO probe VALUES (10, 'before')")
        assert not copy_new_rows(tx.cur, "probe", cols, types, [(3, "three"), (2, "again"), (4, "four")])
        tx.execute("INSERT INTO probe VALUES (11, 'after')")
    with pg_db.fast_read() as tx:
        assert tx.all("SELECT a, b FROM probe ORDER BY a") == [
            (1, "one"), (2, "two"), (10, "before"), (11, "after")
        ]


def test_copy_errors_other_than_a_stored_key_propagate(pg_db):
    with pg_db.fast_write() as tx:
        tx.execute("CREATE TABLE probe (a int PRIMARY KEY, b text NOT NULL)")
    with pytest.raises(Exception, match="null value|not-null"), pg_db.fast_write() as tx:
        copy_new_rows(tx.cur, "probe", ("a", "b"), ("int4", "text"), [(1, "x"), (2, None)])
    with pg_db.fast_read() as tx:
        assert tx.one("SELECT count(*) FROM probe")[0] == 0
