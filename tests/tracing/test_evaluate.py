"""``my.tracing.evaluate``: code scorers and an LLM judge (a tiny OpenAI-compatible server on 127.0.0.1),
results cached by content, k repeats with variance, the evaluation recorded as a run."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import modelyard as my


class _Judge(BaseHTTPRequestHandler):
    """Answers /v1/chat/completions deterministically: yes when the output contains the expected answer."""

    calls: list[dict[str, Any]] = []  # noqa: RUF012 - the test server's record

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append(body)
        example = json.loads(body["messages"][-1]["content"].split("Example: ", 1)[1])
        ok = str(example["expectations"]["answer"]).lower() in str(example["outputs"]).lower()
        content = json.dumps({"score": "yes" if ok else "no", "rationale": "contains it" if ok else "missing"})
        answer = json.dumps({"id": "x", "object": "chat.completion", "model": body["model"] + "-2026",
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                          "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050,
                                       "prompt_tokens_details": {"cached_tokens": 400}}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def judge_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Judge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Judge.calls = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("MLFLOW_TRACKING_URI", "MODELYARD_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    my.set_tracking_uri(None)
    yield
    my.set_tracking_uri(None)


DATA = [{"inputs": {"question": "refunds?"}, "expectations": {"answer": "30 days"}},
        {"inputs": {"question": "hours?"}, "expectations": {"answer": "9 to 5"}}]


def test_scorers_judge_cache_repeats_and_run(embedded, judge_url):
    my.set_experiment("evals")
    predictions: list[str] = []
    flaky = iter(range(100))

    def answer(question: str) -> str:
        predictions.append(question)
        if question == "hours?":  # a non-deterministic app: different answers across repeats
            return "9 to 5" if next(flaky) % 2 == 0 else "we are closed"
        return "Refunds take 30 days."

    def exact(outputs: str, expectations: dict[str, Any]) -> bool:
        return outputs == expectations["answer"]

    def length(outputs: str) -> int:
        return len(outputs)

    judge = my.tracing.make_judge("contains", "Does the output contain the expected answer? yes or no.",
                                  model="tiny-judge", base_url=judge_url)
    first = my.tracing.evaluate(DATA, [exact, length, judge], predict_fn=answer, repeats=2)
    assert len(predictions) == 4 and len(_Judge.calls) == 4
    assert first.metrics["contains/mean"] == 0.75  # refunds yes, yes; hours yes, no
    assert first.metrics["contains/variance"] == pytest.approx((0 + 0.25) / 2)
    assert first.metrics["exact/mean"] == 0.25
    assert first.metrics["length/variance"] > 0
    verdicts = [r["scores"]["contains"] for r in first.rows if r["inputs"]["question"] == "hours?"]
    assert [v["value"] for v in verdicts] == ["yes", "no"] and verdicts[1]["rationale"] == "missing"

    again = my.tracing.evaluate(DATA, [exact, length, judge], predict_fn=answer, repeats=2)
    assert len(predictions) == 4 and len(_Judge.calls) == 4  # nothing computed again
    assert (again.computed, again.metrics, [r["scores"]["contains"]["value"] for r in again.rows]) == (
        0, first.metrics, [r["scores"]["contains"]["value"] for r in first.rows])
    assert all(r["scores"]["contains"]["cached"] for r in again.rows)
    # A rerun asked the judge nothing, so it cost nothing: its traces are the four rows' own (no judge's).
    assert (again.usage["traces"], again.usage["input_tokens"], again.usage["cost"]) == (4, 0, 0)

    client = my.Client()
    run = client.get_run(again.run_id)
    assert run.data.metrics["contains/mean"] == 0.75 and run.data.params["repeats"] == "2"
    assert run.data.tags["mlflow.runType"] == "evaluation"

    def exact(outputs: str, expectations: dict[str, Any]) -> bool:  # noqa: F811 - a changed scorer
        return outputs.lower() == expectations["answer"].lower()

    changed = my.tracing.evaluate(DATA, [exact], predict_fn=answer, repeats=2)
    assert changed.computed == 4 and len(predictions) == 4  # only the changed scorer ran


def test_on_a_stored_dataset_and_bad_input(embedded):
    exp = my.set_experiment("evals-ds")
    client = my.Client()
    ds = client.create_dataset("qa", experiment_ids=[exp.experiment_id])
    assert client.merge_records(ds["dataset_id"], DATA) == (2, 0)
    assert client.merge_records(ds["dataset_id"], [{"inputs": {"question": "hours?"}, "outputs": "9 to 5"}]) == (0, 1)
    result = my.tracing.evaluate(ds["dataset_id"], [lambda outputs: outputs == "9 to 5"],
                                 predict_fn=lambda question: "9 to 5", use_cache=False)
    assert result.metrics["lambda/mean"] == 1.0 and result.computed == 4
    with pytest.raises(my.ModelyardError, match="repeats"):
        my.tracing.evaluate(DATA, [len], predict_fn=str, repeats=0)
    with pytest.raises(my.ModelyardError, match=r"data\[0\] needs 'inputs'"):
        my.tracing.evaluate([{"question": "x"}], [len], predict_fn=str)
    with pytest.raises(my.ModelyardError, match="predict_fn"):
        my.tracing.evaluate(DATA, [len])


def test_judges_record_their_tokens_and_cost_on_the_evaluation(embedded, judge_url):
    my.set_experiment("evals-cost")
    client = my.Client()
    client.set_llm_price("tiny-judge*", 2.0, 10.0, cached_input_per_million=0.5)
    judge = my.tracing.make_judge("contains", "Does the output contain the expected answer? yes or no.",
                                  model="tiny-judge", base_url=judge_url)
    result = my.tracing.evaluate(DATA, [judge], predict_fn=lambda question: "30 days", use_cache=False)
    # Two questions to the judge, each 1000 input tokens (400 cached) and 50 output tokens.
    usage = result.usage
    # Four traces: the two rows' and the judge's two questions (which carry the tokens).
    assert (usage["traces"], usage["input_tokens"], usage["cached_input_tokens"], usage["output_tokens"]) == (
        4, 2000, 800, 100)
    assert usage["cost"] == pytest.approx(2 * (600 * 2.0 + 400 * 0.5 + 50 * 10.0) / 1e6)
    assert [m["model"] for m in usage["models"]] == ["tiny-judge-2026"]
    assert client.run_usage(result.run_id)["cost"] == pytest.approx(usage["cost"])  # the run's roll-up counts them
    row = result.rows[0]["scores"]["contains"]
    assert row["usage"] == {"model": "tiny-judge-2026", "input_tokens": 1000, "output_tokens": 50,
                            "cached_input_tokens": 400}
    info, spans = client.get_trace(row["trace_id"])
    assert info.metadata["mlflow.sourceRun"] == result.run_id and spans[0]["name"] == "judge/contains"
    assert client.trace_usage(row["trace_id"])["input_tokens"] == 1000


def test_evaluate_links_the_prompt_versions_it_evaluated(embedded):
    my.set_experiment("evals-prompt")
    v1 = my.register_prompt("qa-eval", "Answer {{question}}")
    result = my.tracing.evaluate(DATA, [lambda outputs: True], predict_fn=lambda question: "x", use_cache=False,
                                 prompts=[v1, "prompts:/qa-eval/1"])
    tag = my.Client().get_run(result.run_id).data.tags["mlflow.linkedPrompts"]
    assert json.loads(tag) == [{"name": "qa-eval", "version": "1"}]
    with pytest.raises(my.ModelyardError, match="prompts: 'qa-eval' is not a prompt version"):
        my.tracing.evaluate(DATA, [len], predict_fn=str, prompts=["qa-eval"])


def test_token_usage_of_an_answer():
    from modelyard.tracing.judges import token_usage

    assert token_usage({"model": "m-1", "usage": {"prompt_tokens": 7, "completion_tokens": 2}}, "m") == {
        "model": "m-1", "input_tokens": 7, "output_tokens": 2, "cached_input_tokens": 0}
    assert token_usage({"usage": {"prompt_tokens": -1, "completion_tokens": "x",
                                  "prompt_tokens_details": {"cached_tokens": 3}}}, "m") == {
        "model": "m", "input_tokens": 0, "output_tokens": 0, "cached_input_tokens": 3}
    assert token_usage({"choices": []}, "m") is None  # an endpoint that reports no usage: nothing recorded


def test_a_traced_predict_function_belongs_to_the_evaluation_run(embedded):
    my.set_experiment("evals-traced")

    @my.trace(span_type="LLM")
    def answer(question: str) -> str:
        return "30 days"

    result = my.tracing.evaluate(DATA, [lambda outputs: True], predict_fn=answer, use_cache=False)
    assert result.usage["traces"] == 2  # one trace per row, linked to the run (no tokens: they cost nothing)
    with my.start_span("after") as span:  # outside the evaluation: no longer linked to its run
        pass
    my.tracing.flush()
    info, _ = my.Client().get_trace(span.trace_id)
    assert "mlflow.sourceRun" not in info.metadata
