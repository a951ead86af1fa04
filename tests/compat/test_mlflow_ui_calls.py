"""The ``/ajax-api`` calls MLflow's own web UI makes: ``metrics/get-history-bulk`` and ``experiments/search-datasets``.

MLflow's SQL store (in process) is the oracle: the same runs logged to both give the same answer.
"""

from __future__ import annotations

import pytest
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric

from .conftest import assert_error, unique

BULK = "/ajax-api/2.0/mlflow/metrics/get-history-bulk"
DATASETS = "/ajax-api/2.0/mlflow/experiments/search-datasets"

# Points (value, timestamp, step) of metric "m" for two runs: ties on timestamp are broken by step, then value.
POINTS = [
    [(0.5, 1000, 0), (0.25, 1000, 1), (0.75, 999, 2), (float("nan"), 1001, 3)],
    [(1.0, 5, 0), (2.0, 5, 0), (3.0, 4, 9)],
]


def _runs(c, points):  # type: ignore[no-untyped-def]
    exp = c.create_experiment(unique("bulk"))
    ids = []
    for run_points in points:
        rid = c.create_run(exp).info.run_id
        c.log_batch(rid, metrics=[Metric("m", v, ts, step) for v, ts, step in run_points])
        ids.append(rid)
    return ids


def _points(metrics, run_id):  # type: ignore[no-untyped-def]
    return [(m["step"], m["timestamp"], str(float(m["value"]))) for m in metrics if m["run_id"] == run_id]


@pytest.mark.parametrize("max_results", [None, 25_000, 1_000_000])
def test_history_bulk_matches_mlflow(client, reference, http, max_results):
    ours, theirs = _runs(client, POINTS), _runs(reference, POINTS)
    params = [("run_id", r) for r in ours] + [("metric_key", "m")]
    if max_results is not None:
        params.append(("max_results", str(max_results)))
    got = http.get(BULK, params=params)
    assert got.status_code == 200, got.text
    metrics = got.json()["metrics"]
    expected = [m.to_dict() for m in reference._tracking_client.store.get_metric_history_bulk(
        theirs, "m", max_results=25_000)]
    # Run ids differ between the stores: compare run by run (in creation order), and the order of runs.
    for mine, ref in zip(ours, theirs):
        assert _points(metrics, mine) == _points(expected, ref)
    assert [m["run_id"] for m in metrics] == sorted(m["run_id"] for m in metrics)
    assert "NaN" in [m["value"] for m in metrics]  # non-finite values travel as MLflow's strings
    assert set(metrics[0]) == {"key", "value", "timestamp", "step", "run_id"}


def test_history_bulk_max_results_cuts_the_whole_answer(client, http):
    ours = _runs(client, POINTS)
    params = [("run_id", r) for r in ours] + [("metric_key", "m")]
    everything = http.get(BULK, params=params).json()["metrics"]
    assert len(everything) == 7
    assert http.get(BULK, params=[*params, ("max_results", "5")]).json()["metrics"] == everything[:5]


def test_history_bulk_errors_and_unknown_runs(client, http):
    ids = _runs(client, POINTS[:1])
    assert http.get(BULK, params=[("run_id", "f" * 32), ("run_id", ids[0]), ("metric_key", "m")]).json()[
        "metrics"][0]["run_id"] == ids[0]  # a run that is not there has no points, as in MLflow
    assert http.get(BULK, params=[("run_id", ids[0]), ("metric_key", "other")]).json() == {"metrics": []}
    assert_error(http.get(BULK, params=[("metric_key", "m")]), 400, "INVALID_PARAMETER_VALUE",
                 mentions="must specify at least one run_id")
    assert_error(http.get(BULK, params=[("run_id", ids[0])]), 400, "INVALID_PARAMETER_VALUE",
                 mentions="must specify a metric_key")
    many = [("run_id", f"{i:032x}") for i in range(101)]
    assert_error(http.get(BULK, params=[*many, ("metric_key", "m")]), 400, "INVALID_PARAMETER_VALUE",
                 mentions="Received 101 run_ids")
    assert_error(http.get(BULK, params=[("run_id", ids[0]), ("metric_key", "m"), ("max_results", "0")]),
                 400, "INVALID_PARAMETER_VALUE", mentions="max_results")
    assert_error(http.get(BULK, params=[("run_id", "x' OR 1=1"), ("metric_key", "m")]),
                 400, "INVALID_PARAMETER_VALUE", mentions="run_id")


def _log_datasets(c):  # type: ignore[no-untyped-def]
    exp = c.create_experiment(unique("ds"))
    train = Dataset("train", "d1", "local", "file:///train.csv")
    evals = Dataset("eval", "d2", "local", "file:///eval.csv")
    first, second = c.create_run(exp).info.run_id, c.create_run(exp).info.run_id
    c.log_inputs(first, [DatasetInput(train, [InputTag("mlflow.data.context", "training")]),
                         DatasetInput(evals, [])])
    c.log_inputs(second, [DatasetInput(train, [InputTag("mlflow.data.context", "training")]),
                          DatasetInput(evals, [InputTag("mlflow.data.context", "evaluation")])])
    c.create_run(c.create_experiment(unique("empty")))
    return exp


def test_search_datasets_matches_mlflow(client, reference, http):
    ours, theirs = _log_datasets(client), _log_datasets(reference)
    resp = http.post(DATASETS, json={"experiment_ids": [ours]})
    assert resp.status_code == 200, resp.text
    got = sorted((s["name"], s["digest"], s.get("context", "")) for s in resp.json()["dataset_summaries"])
    expected = sorted((s.name, s.digest, s.context or "")
                      for s in reference._tracking_client.store._search_datasets([theirs]))
    assert got == expected == [("eval", "d2", ""), ("eval", "d2", "evaluation"), ("train", "d1", "training")]
    assert {s["experiment_id"] for s in resp.json()["dataset_summaries"]} == {ours}
    other = client.create_experiment(unique("none"))
    assert http.post(DATASETS, json={"experiment_ids": [other]}).json() == {"dataset_summaries": []}


def test_search_datasets_errors(http):
    assert_error(http.post(DATASETS, json={}), 400, "INVALID_PARAMETER_VALUE",
                 mentions="must specify at least one experiment_id")
    assert_error(http.post(DATASETS, json={"experiment_ids": [str(i) for i in range(21)]}), 400,
                 "INVALID_PARAMETER_VALUE", mentions="Received 21 experiment_ids")
    assert_error(http.post(DATASETS, json={"experiment_ids": ["abc"]}), 400, "INVALID_PARAMETER_VALUE",
                 mentions="Invalid experiment ID 'abc'")
