"""MLflow 3.17's GenAI APIs driven by the official client against one live server per database (SQLite,
PostgreSQL): the prompt registry, evaluation datasets, ``mlflow.genai.evaluate`` and token costs.

In MLflow OSS a prompt is a registered model tagged ``mlflow.prompt.is_prompt=true`` and each
prompt version a model version whose tags hold the template (``mlflow.prompt.text``), its type
and the commit message as the description; the client does the rest. The server must accept the
placeholder source the client sends, hide prompts from model searches and models from prompt
searches, and answer the client's filters (``tags.`mlflow.prompt.is_prompt` = 'true'``,
``tags._mlflow_experiment_ids LIKE '%,1,%'``, ``version_number DESC``).

Evaluation datasets travel under ``/api/3.0/mlflow/datasets/...``: create, merge records (JSON in
JSON), read them back a page at a time, search by name and tag, tags, experiments, delete.
``evaluate`` with plain Python scorers runs a predict function over a dataset we hold and records
a run with its metrics, one trace per row and the scores as assessments on the traces.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from .conftest import assert_error, unique

# Trace logging synchronous: a trace is on the server when the traced call returns (conftest's fixture).
pytestmark = pytest.mark.usefixtures("sync_trace_export")


def test_register_load_by_version_and_alias(client: Any) -> None:
    import mlflow

    name = unique("qa-prompt")
    v1 = mlflow.genai.register_prompt(name, "Answer {{question}} briefly.", commit_message="first",
                                      tags={"team": "search"})
    assert v1.version == 1
    v2 = mlflow.genai.register_prompt(name, "Answer {{question}} in {{style}} style.", commit_message="style")
    assert v2.version == 2

    loaded = mlflow.genai.load_prompt(f"prompts:/{name}/1", cache_ttl_seconds=0)
    assert loaded.template == "Answer {{question}} briefly."
    assert loaded.commit_message == "first"
    assert loaded.format(question="why?") == "Answer why? briefly."
    assert loaded.variables == {"question"}
    assert mlflow.genai.load_prompt(name, version=2, cache_ttl_seconds=0).template.endswith("{{style}} style.")
    assert mlflow.genai.load_prompt(f"prompts:/{name}@latest", cache_ttl_seconds=0).version == 2

    mlflow.genai.set_prompt_alias(name, "production", 1)
    assert mlflow.genai.load_prompt(f"prompts:/{name}@production", cache_ttl_seconds=0).version == 1
    mlflow.genai.set_prompt_alias(name, "production", 2)
    prod = mlflow.genai.load_prompt(f"prompts:/{name}@production", cache_ttl_seconds=0)
    assert prod.version == 2
    assert "production" in prod.aliases
    mlflow.genai.delete_prompt_alias(name, "production")
    with pytest.raises(mlflow.MlflowException):
        mlflow.genai.load_prompt(f"prompts:/{name}@production", cache_ttl_seconds=0)

    prompt = client.get_prompt(name)
    assert prompt.tags["team"] == "search"
    assert "mlflow.prompt.is_prompt" not in prompt.tags


def test_chat_template_and_response_format(client: Any) -> None:
    import mlflow

    name = unique("chat-prompt")
    messages = [{"role": "system", "content": "You are a {{style}} assistant."},
                {"role": "user", "content": "{{question}}"}]
    mlflow.genai.register_prompt(name, messages, response_format={"type": "object"},
                                 model_config={"model_name": "tiny", "temperature": 0.0})
    loaded = mlflow.genai.load_prompt(name, version=1, cache_ttl_seconds=0)
    assert not loaded.is_text_prompt
    assert loaded.template == messages
    assert loaded.format(style="terse", question="hi?")[1] == {"role": "user", "content": "hi?"}
    assert loaded.response_format == {"type": "object"}
    assert loaded.model_config["model_name"] == "tiny"


def test_prompt_searches_hide_models_and_model_searches_hide_prompts(client: Any) -> None:
    import mlflow

    stem = unique("split")
    prompt, model = f"{stem}-prompt", f"{stem}-model"
    mlflow.genai.register_prompt(prompt, "Hello {{name}}")
    client.create_registered_model(model)

    found = [p.name for p in mlflow.genai.search_prompts(f"name LIKE '{stem}%'")]
    assert found == [prompt]
    models = [m.name for m in client.search_registered_models(f"name LIKE '{stem}%'")]
    assert models == [model]
    versions = client.search_model_versions(f"name = '{prompt}'")
    assert list(versions) == []

    # A model's name cannot become a prompt, and a prompt's versions cannot be read as a model's.
    with pytest.raises(mlflow.MlflowException, match="same name"):
        mlflow.genai.register_prompt(model, "x")
    pvs = client.search_prompt_versions(prompt)
    assert [pv.version for pv in pvs] == [1]


def test_search_prompts_by_experiment(client: Any) -> None:
    import mlflow

    experiment = mlflow.set_experiment(unique("prompt-exp"))
    name = unique("exp-prompt")
    try:
        mlflow.genai.register_prompt(name, "Hi {{x}}")
        # The client tags the prompt with the active experiment in a thread: wait for it (bounded).
        for _ in range(100):
            if client.get_prompt(name).tags.get("_mlflow_experiment_ids"):
                break
            time.sleep(0.05)
        found = mlflow.genai.search_prompts(f'experiment_id = "{experiment.experiment_id}"')
        assert [p.name for p in found] == [name]
    finally:
        mlflow.set_experiment("Default")


def test_tags_and_deletes(client: Any) -> None:
    import mlflow

    name = unique("tagged")
    mlflow.genai.register_prompt(name, "v1 {{a}}")
    mlflow.genai.register_prompt(name, "v2 {{a}}")
    mlflow.genai.set_prompt_tag(name, "owner", "ann")
    assert mlflow.genai.get_prompt_tags(name)["owner"] == "ann"
    mlflow.genai.delete_prompt_tag(name, "owner")
    assert "owner" not in mlflow.genai.get_prompt_tags(name)
    mlflow.genai.set_prompt_version_tag(name, 1, "reviewed", "yes")
    assert client.get_prompt_version(name, 1).tags["reviewed"] == "yes"
    mlflow.genai.delete_prompt_version_tag(name, 1, "reviewed")
    assert "reviewed" not in client.get_prompt_version(name, 1).tags

    client.delete_prompt_version(name, 1)
    assert [pv.version for pv in client.search_prompt_versions(name)] == [2]
    client.delete_prompt_version(name, 2)
    client.delete_prompt(name)
    assert client.get_prompt(name) is None


def test_bad_prompt_source_is_refused(http: Any) -> None:
    name = unique("src")
    r = http.post("/api/2.0/mlflow/registered-models/create",
                  json={"name": name, "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]})
    assert r.status_code == 200, r.text
    r = http.post("/api/2.0/mlflow/model-versions/create",
                  json={"name": name, "source": "s3://bucket/elsewhere",
                        "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", mentions="Invalid prompt source")


def test_prompt_linked_to_trace_and_run(client: Any) -> None:
    import mlflow

    mlflow.set_experiment(unique("prompt-links"))
    name = unique("linked")
    mlflow.genai.register_prompt(name, "Summarise {{text}}")

    @mlflow.trace
    def summarise(text: str) -> str:
        prompt = mlflow.genai.load_prompt(f"prompts:/{name}/1", cache_ttl_seconds=0)
        return prompt.format(text=text)[:20]

    with mlflow.start_run() as run:
        summarise("a long story")
        mlflow.genai.load_prompt(f"prompts:/{name}/1", cache_ttl_seconds=0)
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id

    # The client links the trace's prompts in a thread after export: wait for it (bounded).
    found: list[Any] = []
    for _ in range(100):
        found = client.search_traces(locations=[run.info.experiment_id], filter_string=f"prompt = '{name}/1'")
        if found:
            break
        time.sleep(0.05)
    assert [t.info.trace_id for t in found] == [trace_id]
    tag = json.loads(client.get_trace(trace_id).info.tags["mlflow.linkedPrompts"])
    assert tag == [{"name": name, "version": "1"}]

    linked = json.loads(client.get_run(run.info.run_id).data.tags["mlflow.linkedPrompts"])
    assert linked == [{"name": name, "version": "1"}]
    mlflow.set_experiment("Default")


def test_our_sdk_and_mlflow_read_each_others_prompts(server: Any, client: Any) -> None:
    import mlflow

    import modelyard as my

    ours = my.Client(server.url)
    name = unique("shared")
    pv = ours.register_prompt(name, [{"role": "user", "content": "Hi {{who}}"}], commit_message="chat v1",
                              tags={"lang": "en"})
    assert (pv.version, pv.is_text, pv.variables) == (1, False, ["who"])
    theirs = mlflow.genai.load_prompt(f"prompts:/{name}/1", cache_ttl_seconds=0)
    assert theirs.template == [{"role": "user", "content": "Hi {{who}}"}]
    assert theirs.commit_message == "chat v1" and theirs.tags["lang"] == "en"

    mlflow.genai.register_prompt(name, [{"role": "user", "content": "Hello {{who}}!"}], commit_message="warmer")
    mlflow.genai.set_prompt_alias(name, "production", 2)
    loaded = ours.load_prompt(f"prompts:/{name}@production")
    assert (loaded.version, loaded.commit_message, loaded.aliases) == (2, "warmer", ["production"])
    assert loaded.format(who="Ann") == [{"role": "user", "content": "Hello Ann!"}]
    assert ours.load_prompt(name).version == 2  # latest
    assert [v.version for v in ours.search_prompt_versions(name)] == [2, 1]
    assert ours.get_prompt_version(name, 1).diff(loaded) == [
        f"--- {name}/1", f"+++ {name}/2", "@@ -1 +1 @@", "-[user] Hi {{who}}", "+[user] Hello {{who}}!"]
    assert [m.name for m in ours.search_prompts(f"name = '{name}'")] == [name]
    assert list(ours.search_registered_models(f"name = '{name}'")) == []
    with pytest.raises(my.ModelyardError, match="prompts:/<name>/<version>"):
        ours.load_prompt("prompts:/a/b/c")
    ours.close()


def test_protected_aliases_apply_to_prompts(client: Any, http: Any) -> None:
    import mlflow

    name = unique("guarded-prompt")
    mlflow.genai.register_prompt(name, "v1 {{x}}")
    mlflow.genai.register_prompt(name, "v2 {{x}}")
    mlflow.genai.set_prompt_alias(name, "production", 1)
    r = http.post("/api/2.0/modelyard/registered-models/alias/protect", json={"name": name, "alias": "production"})
    assert r.status_code == 200, r.text
    with pytest.raises(mlflow.MlflowException, match="protected"):
        mlflow.genai.set_prompt_alias(name, "production", 2)
    assert mlflow.genai.load_prompt(f"prompts:/{name}@production", cache_ttl_seconds=0).version == 1


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


def test_records_from_traces_with_their_expectations_and_feedback(exp: str, server: Any) -> None:
    import mlflow

    import modelyard as my

    @mlflow.trace
    def bot(question: str) -> str:
        return "30 days" if "refund" in question else "no idea"

    bot("refund window?")
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id
    mlflow.log_expectation(trace_id=trace_id, name="answer", value="30 days")
    mlflow.log_feedback(trace_id=trace_id, name="helpful", value=True)
    bot("opening hours?")

    with my.Client(server.url) as ours:
        rows = my.tracing.records_from_traces([exp], "feedback.helpful = 'true'", client=ours)
        assert rows == [{"inputs": {"question": "refund window?"}, "outputs": "30 days",
                         "expectations": {"answer": "30 days"}, "tags": {"feedback.helpful": "true"},
                         "source": {"source_type": "TRACE", "source_data": {"trace_id": trace_id}}}]
        assert len(my.tracing.records_from_traces([exp], client=ours)) == 2
        dataset = ours.create_dataset(unique("from-traces"), experiment_ids=[exp])
        assert ours.merge_records(dataset["dataset_id"], rows) == (1, 0)
        stored = ours.get_dataset_records(dataset["dataset_id"])
        assert stored[0]["source_id"] == trace_id and stored[0]["source_type"] == "TRACE"


def test_our_evaluate_records_scores_as_assessments_the_official_client_reads(exp: str, client: Any,
                                                                               server: Any) -> None:
    """As ``mlflow.genai.evaluate``: one trace per row in the run, each score a feedback assessment on it (CODE
    source, the run in its metadata), each expectation an expectation; searchable by ``feedback.<scorer>``."""
    import modelyard as my

    def exact(outputs: Any, expectations: dict[str, Any]) -> bool:
        return bool(outputs == expectations["answer"])

    def verdict(outputs: Any) -> my.tracing.Score:
        return my.tracing.Score("pass" if "30" in str(outputs) else "fail", rationale="mentions 30")

    @my.trace(span_type="LLM")
    def answer(question: str) -> str:
        return {"refunds?": "30 days", "hours?": "always"}[question]

    my.set_tracking_uri(server.url)
    try:
        my.set_experiment(experiment_id=exp)
        result = my.tracing.evaluate(
            [{"inputs": {"question": "refunds?"}, "expectations": {"answer": "30 days"}},
             {"inputs": {"question": "hours?"}, "expectations": {"answer": "9 to 5"}}],
            [exact, verdict], predict_fn=answer, use_cache=False)
    finally:
        my.set_tracking_uri(None)
    assert result.metrics["exact/mean"] == 0.5
    traces = client.search_traces(locations=[exp], run_id=result.run_id)
    assert len(traces) == 2
    by_question = {json.loads(t.info.request_preview)["question"]: t for t in traces}
    refunds = client.get_trace(by_question["refunds?"].info.trace_id)
    assert [s.name for s in refunds.data.spans] == ["answer", "answer"]  # the row's root, the app's span under it
    found = {(a.name, type(a).__name__): a for a in refunds.info.assessments}
    assert set(found) == {("exact", "Feedback"), ("verdict", "Feedback"), ("answer", "Expectation")}
    exact_fb = found[("exact", "Feedback")]
    assert exact_fb.value is True and exact_fb.source.source_type == "CODE" and exact_fb.source.source_id == "exact"
    assert exact_fb.metadata["mlflow.assessment.sourceRunId"] == result.run_id
    assert exact_fb.span_id == refunds.data.spans[0].span_id
    assert (found[("verdict", "Feedback")].value, found[("verdict", "Feedback")].rationale) == ("pass", "mentions 30")
    assert found[("answer", "Expectation")].value == "30 days"
    hours = by_question["hours?"].info
    assert {(a.name, a.value) for a in hours.assessments if type(a).__name__ == "Feedback"} == {
        ("exact", False), ("verdict", "fail")}
    failed = client.search_traces(locations=[exp], filter_string="feedback.exact = 'false'")
    assert [t.info.trace_id for t in failed] == [hours.trace_id]
    assert [r["trace_id"] for r in result.rows] == [by_question["refunds?"].info.trace_id, hours.trace_id]
