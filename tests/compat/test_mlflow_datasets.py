"""MLflow 3.17's evaluation datasets and ``mlflow.genai.evaluate``, driven by the official client (SQLite, PostgreSQL).

The client speaks ``/api/3.0/mlflow/datasets/...``: create, merge records (JSON in JSON), read
them back a page at a time, search by name and tag, tags, experiments, delete. ``evaluate`` with
plain Python scorers runs a predict function over a dataset we hold and records a run with its
metrics, one trace per row and the scores as assessments on the traces.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import assert_error, unique


@pytest.fixture(scope="module", autouse=True)
def _sync_trace_export() -> Iterator[None]:
    old = os.environ.get("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING")
    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    yield
    if old is None:
        os.environ.pop("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING")
    else:
        os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = old


@pytest.fixture
def exp(client: Any) -> Iterator[str]:
    import mlflow

    experiment = mlflow.set_experiment(unique("datasets"))
    yield str(experiment.experiment_id)
    mlflow.set_experiment("Default")


def test_create_merge_read_search_and_delete(exp: str) -> None:
    from mlflow.genai import datasets

    name = unique("qa-set")
    ds = datasets.create_dataset(name=name, experiment_id=exp, tags={"stage": "dev"})
    assert ds.dataset_id.startswith("d-") and ds.tags["stage"] == "dev"
    ds.merge_records([
        {"inputs": {"question": "refunds?"}, "expectations": {"answer": "30 days"}},
        {"inputs": {"question": "hours?"}, "expectations": {"answer": "9-5"}, "tags": {"lang": "en"}},
    ])
    # The same inputs again: the record is updated (expectations merged), not duplicated.
    ds.merge_records([{"inputs": {"question": "refunds?"}, "expectations": {"tone": "polite"}}])
    got = datasets.get_dataset(dataset_id=ds.dataset_id)
    df = got.to_df()
    assert len(df) == 2
    by_q = {row["inputs"]["question"]: row for _, row in df.iterrows()}
    assert by_q["refunds?"]["expectations"] == {"answer": "30 days", "tone": "polite"}
    assert got.schema and '"question": "string"' in got.schema
    assert got.profile == '{"num_records": 2}'
    assert got.experiment_ids == [exp]

    assert [d.dataset_id for d in datasets.search_datasets(filter_string=f"name = '{name}'")] == [ds.dataset_id]
    assert [d.name for d in datasets.search_datasets(experiment_ids=[exp], filter_string="tags.stage = 'dev'")] == [name]
    assert list(datasets.search_datasets(experiment_ids=[exp], filter_string="tags.stage = 'prod'")) == []
    assert datasets.get_dataset(name=name).dataset_id == ds.dataset_id

    datasets.set_dataset_tags(ds.dataset_id, {"stage": "prod", "owner": "ann"})
    datasets.delete_dataset_tag(ds.dataset_id, "owner")
    tags = datasets.get_dataset(dataset_id=ds.dataset_id).tags
    assert tags["stage"] == "prod" and "owner" not in tags

    record_id = df["dataset_record_id"].tolist()[0]
    assert got.delete_records([record_id]) == 1
    assert len(datasets.get_dataset(dataset_id=ds.dataset_id).to_df()) == 1

    datasets.delete_dataset(dataset_id=ds.dataset_id)
    with pytest.raises(Exception, match="not found"):
        datasets.get_dataset(dataset_id=ds.dataset_id)


def test_bad_records_are_refused_with_a_clear_error(exp: str, http: Any) -> None:
    r = http.post("/api/3.0/mlflow/datasets/create", json={"name": unique("bad"), "experiment_ids": [exp]})
    assert r.status_code == 200, r.text
    dataset_id = r.json()["dataset"]["dataset_id"]
    r = http.post(f"/api/3.0/mlflow/datasets/{dataset_id}/records", json={"records": '[{"outputs": 1}]'})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", mentions="records[0].inputs")
    r = http.post(f"/api/3.0/mlflow/datasets/{dataset_id}/records", json={"records": "not json"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", mentions="records")
    r = http.post("/api/3.0/mlflow/datasets/create", json={"name": "x", "experiment_ids": ["987654"]})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    r = http.post("/api/3.0/mlflow/datasets/search", json={"filter_string": "colour = 'red'"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", mentions="colour")
    r = http.get("/api/3.0/mlflow/datasets/d-missing/records")
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


def test_evaluate_with_code_scorers_on_a_dataset(exp: str, client: Any) -> None:
    import mlflow
    from mlflow.genai import datasets
    from mlflow.genai.scorers import scorer

    ds = datasets.create_dataset(name=unique("eval-set"), experiment_id=exp)
    ds.merge_records([
        {"inputs": {"question": "refunds?"}, "expectations": {"expected_response": "30 DAYS"}},
        {"inputs": {"question": "hours?"}, "expectations": {"expected_response": "9 to 5"}},
    ])

    @scorer
    def exact(outputs: Any, expectations: dict[str, Any]) -> bool:
        return bool(outputs == expectations["expected_response"])

    @scorer
    def length(outputs: Any) -> int:
        return len(str(outputs))

    def predict(question: str) -> str:
        return {"refunds?": "30 DAYS", "hours?": "always"}[question]

    result = mlflow.genai.evaluate(data=datasets.get_dataset(dataset_id=ds.dataset_id), scorers=[exact, length],
                                   predict_fn=predict)
    assert result.metrics["exact/mean"] == 0.5
    run = client.get_run(result.run_id)
    assert run.info.experiment_id == exp
    assert run.data.metrics["exact/mean"] == 0.5
    traces = client.search_traces(locations=[exp], run_id=result.run_id)
    assert len(traces) == 2
    scores = sorted((a.name, a.value) for t in traces for a in t.info.assessments if a.name == "exact")
    assert scores == [("exact", False), ("exact", True)]


def test_tokens_from_the_official_client_are_priced(exp: str, http: Any) -> None:
    import mlflow
    from mlflow.entities import SpanType

    r = http.post("/api/2.0/modelyard/llm/prices", json={"model": "tiny-gpt", "input_per_million": 2.0,
                                                         "output_per_million": 8.0, "cached_input_per_million": 0.5})
    assert r.status_code == 200, r.text

    with mlflow.start_span("chat", span_type=SpanType.CHAT_MODEL) as span:
        span.set_attribute("mlflow.chat.tokenUsage", {"input_tokens": 3000, "output_tokens": 200,
                                                      "total_tokens": 3200, "cache_read_input_tokens": 2000})
        span.set_attribute("mlflow.llm.model", "tiny-gpt")
        trace_id = span.trace_id
    r = http.get("/api/2.0/modelyard/llm/usage/trace", params={"trace_id": trace_id})
    assert r.status_code == 200, r.text
    usage = r.json()
    assert (usage["input_tokens"], usage["cached_input_tokens"], usage["output_tokens"]) == (3000, 2000, 200)
    # Cached input at its own price: 1000 * 2 + 2000 * 0.5 + 200 * 8 per million.
    assert usage["cost"] == pytest.approx((2000 + 1000 + 1600) / 1e6)
    r = http.post("/api/2.0/modelyard/llm/prices", json={"model": "x", "input_per_million": "free"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", mentions="input_per_million")
