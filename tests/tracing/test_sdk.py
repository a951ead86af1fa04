"""``@my.trace`` and ``my.start_span``: embedded and against a live server, read back by our client and mlflow's."""

from __future__ import annotations

import asyncio

import pytest

import modelyard as my


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("MLFLOW_TRACKING_URI", "MODELYARD_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    my.set_tracking_uri(None)
    yield
    while my.active_run():
        my.end_run()
    my.set_tracking_uri(None)


@pytest.fixture
def served(live_server, monkeypatch):
    for name in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    my.set_tracking_uri(live_server.url)
    yield live_server.url
    while my.active_run():
        my.end_run()
    my.set_tracking_uri(None)


@my.trace(span_type="LLM")
def answer(question: str) -> str:
    if question == "boom":
        raise ValueError("model refused")
    return question.upper()


@my.trace(span_type="CHAIN")
async def bot(question: str) -> str:
    with my.start_span("retrieve", span_type="RETRIEVER", attributes={"index": "faq"}) as span:
        span.set_inputs({"query": question})
        span.set_outputs(["refunds.md"])
    my.tracing.update_current_trace(tags={"channel": "email"})
    return answer(question)


def scenario() -> None:
    exp = my.set_experiment("sdk-traces")
    client = my.Client(my.get_tracking_uri())
    assert asyncio.run(bot("refunds?")) == "REFUNDS?"
    first = my.tracing.last_trace_id()
    with my.start_run() as run:
        with pytest.raises(ValueError):
            answer("boom")
        failed = my.tracing.last_trace_id()
    my.tracing.flush()
    info, spans = client.get_trace(first)
    assert info.state == "OK" and info.tags["channel"] == "email" and info.tags["mlflow.traceName"] == "bot"
    assert sorted(s["name"] for s in spans) == ["answer", "bot", "retrieve"]
    assert spans[0]["name"] == "bot"
    info, spans = client.get_trace(failed)
    assert info.state == "ERROR" and info.metadata["mlflow.sourceRun"] == run.info.run_id
    page = client.search_traces([exp.experiment_id], "span.attributes.index = 'faq' AND tags.channel = 'email'")
    assert [i.trace_id for i in page] == [first]
    assert [i.trace_id for i in client.search_traces([exp.experiment_id], "trace.status = 'ERROR'")] == [failed]


def test_embedded(embedded):
    scenario()


def test_against_a_server_and_read_by_mlflow(served):
    scenario()
    from mlflow import MlflowClient

    trace_id = my.tracing.last_trace_id()
    trace = MlflowClient(served).get_trace(trace_id)
    assert trace.info.state == "ERROR"
    assert trace.data.spans[0].span_type == "LLM" and trace.data.spans[0].inputs == {"question": "boom"}


def test_update_outside_a_span_says_what_to_do():
    with pytest.raises(RuntimeError, match="inside @my.trace"):
        my.tracing.update_current_trace(tags={"a": "b"})
