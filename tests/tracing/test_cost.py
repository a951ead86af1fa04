"""Tokens and cost: usage read from span attributes (MLflow, OpenTelemetry GenAI, OpenInference), the
price table (cached input priced as such), roll-ups per trace, run, model version and prompt version, the CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import modelyard as my
from modelyard.cli import main
from modelyard.entities.usage import Price, Usage, price_for, span_usage


def test_usage_from_each_convention_and_cached_pricing():
    assert span_usage({"mlflow.chat.tokenUsage": json.dumps({"input_tokens": 10, "output_tokens": 2,
                                                            "cache_read_input_tokens": 4}),
                       "mlflow.llm.model": '"gpt-4o"'}) == Usage("gpt-4o", 10, 2, 4)
    assert span_usage({"gen_ai.usage.prompt_tokens": 7, "gen_ai.usage.completion_tokens": 3,
                       "gen_ai.request.model": "m"}) == Usage("m", 7, 3, 0)
    assert span_usage({"llm.token_count.prompt": "5", "llm.token_count.completion": 1,
                       "llm.token_count.prompt_details.cache_read": 9, "llm.model_name": "x"}) == Usage("x", 5, 1, 5)
    assert span_usage({"gen_ai.request.model": "m"}) is None
    assert span_usage({"gen_ai.usage.input_tokens": -3, "gen_ai.usage.output_tokens": "many"}) is None
    price = Price("gpt-4o", 2.5, 10.0, 1.25)
    # 1M input of which 800k cached: 200k at 2.5 + 800k at 1.25 + 100k output at 10.
    assert price.cost(1_000_000, 100_000, 800_000) == pytest.approx(0.5 + 1.0 + 1.0)
    assert Price("m", 2.0, 4.0).cost(1_000_000, 0, 500_000) == pytest.approx(2.0)  # no cached price: input's
    prices = {"gpt-4o*": Price("gpt-4o*", 1, 1), "gpt-4o-mini*": Price("gpt-4o-mini*", 2, 2), "x": Price("x", 3, 3)}
    assert price_for("gpt-4o-mini-2024", prices).model == "gpt-4o-mini*"  # type: ignore[union-attr]
    assert price_for("gpt-4o-2024", prices).model == "gpt-4o*"  # type: ignore[union-attr]
    assert price_for("y", prices) is None and price_for("x", prices).model == "x"  # type: ignore[union-attr]


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("MLFLOW_TRACKING_URI", "MODELYARD_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    my.set_tracking_uri(None)
    yield tmp_path
    while my.active_run():
        my.end_run()
    my.set_tracking_uri(None)


def _llm_call(model: str, inputs: int, outputs: int, cached: int = 0) -> None:
    with my.start_span("chat", span_type="LLM") as span:
        span.set_attribute("gen_ai.request.model", model)
        span.set_attribute("gen_ai.usage.input_tokens", inputs)
        span.set_attribute("gen_ai.usage.output_tokens", outputs)
        span.set_attribute("gen_ai.usage.cache_read.input_tokens", cached)


def test_rollups_per_trace_run_model_version_and_prompt_version(embedded):
    my.set_experiment("costs")
    client = my.Client()
    client.set_llm_price("gpt-4o*", 2.5, 10.0, cached_input_per_million=1.25)
    my.register_prompt("qa", "Answer {{q}}")

    @my.trace
    def app(q: str) -> str:
        my.load_prompt("qa", version=1)
        _llm_call("gpt-4o-2024", 1_000_000, 100_000, cached=800_000)
        _llm_call("local-llama", 500, 20)
        return q

    with my.start_run() as run:
        app("why?")
        first = my.tracing.last_trace_id()
        with my.start_span("other"):
            _llm_call("gpt-4o", 2_000_000, 0)
    my.tracing.flush()
    assert first is not None

    one = client.trace_usage(first)
    assert (one["traces"], one["input_tokens"], one["cached_input_tokens"], one["output_tokens"]) == (
        1, 1_000_500, 800_000, 100_020)
    assert one["cost"] == pytest.approx(2.5) and one["currency"] == "USD"
    assert one["unpriced_models"] == ["local-llama"]

    whole = client.run_usage(run.info.run_id)
    assert whole["traces"] == 2 and whole["cost"] == pytest.approx(2.5 + 5.0)
    assert client.prompt_version_usage("qa", 1)["cost"] == pytest.approx(2.5)

    client.create_registered_model("bot")
    client.create_model_version("bot", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    assert client.model_version_usage("bot", 1)["cost"] == pytest.approx(7.5)

    client.set_llm_price("gpt-4o*", 5.0, 10.0)  # a corrected price re-prices the past; no cached price now
    assert client.trace_usage(first)["cost"] == pytest.approx(5.0 + 1.0)
    with pytest.raises(my.ModelyardError, match="input_per_million"):
        client.set_llm_price("bad", -1, 0)
    with pytest.raises(my.ModelyardError, match="No price for model 'nope'"):
        client.delete_llm_price("nope")


def test_cli(embedded):
    my.set_experiment("costs-cli")
    with my.start_span("root"):
        _llm_call("gpt-4o", 1000, 100, cached=500)
    my.tracing.flush()
    trace_id = my.tracing.last_trace_id()
    runner = CliRunner()
    result = runner.invoke(main, ["prices", "set", "gpt-4o", "--input", "2", "--output", "8", "--cached-input", "1"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(main, ["prices", "list", "--json"])
    assert json.loads(listed.output)["prices"][0]["cached_input_per_million"] == 1.0
    out = runner.invoke(main, ["prices", "usage", "--trace", str(trace_id), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["cost"] == pytest.approx((500 * 2 + 500 * 1 + 100 * 8) / 1e6)
    table = runner.invoke(main, ["prices", "usage", "--trace", str(trace_id)])
    assert "gpt-4o" in table.output and "1 traces" in table.output
    bad = runner.invoke(main, ["prices", "usage"])
    assert bad.exit_code != 0 and "exactly one" in bad.output


def test_sessions_and_users_from_our_sdk(embedded):
    exp = my.set_experiment("sessions")
    for session, user in (("s-1", "ann"), ("s-2", "bob"), ("s-1", "ann")):
        with my.start_span("turn"):
            my.tracing.update_current_trace(session_id=session, user=user)
    my.tracing.flush()
    client = my.Client()
    found = client.search_traces([exp.experiment_id], "metadata.`mlflow.trace.session` = 's-1'")
    assert len(found) == 2 and {t.metadata["mlflow.trace.user"] for t in found} == {"ann"}
    assert len(client.search_traces([exp.experiment_id], "metadata.`mlflow.trace.user` = 'bob'")) == 1
    long_id = "x" * 300  # longer than the indexed column: still found, through the metadata rows
    with my.start_span("turn"):
        my.tracing.update_current_trace(session_id=long_id)
    my.tracing.flush()
    assert len(client.search_traces([exp.experiment_id], f"metadata.`mlflow.trace.session` = '{long_id}'")) == 1


def test_a_prompt_versions_usage_counts_the_traces_of_its_own_workspace(embedded, monkeypatch):
    """``dev`` and ``prod`` each have a prompt ``qa`` (two prompts of one name) and a trace that loaded its version
    1: each version's usage is its own workspace's trace, not the other's."""
    from modelyard.api import schemas_workspaces as ws
    from modelyard.api.workspaces import CREATE_WORKSPACE

    client = my.Client()
    client.set_llm_price("gpt-4o*", 2.5, 10.0)
    for team in ("dev", "prod"):
        client._call(CREATE_WORKSPACE, ws.CreateWorkspace(name=team))
    for team, tokens in (("dev", 1_000_000), ("prod", 3_000_000)):
        monkeypatch.setenv("MLFLOW_WORKSPACE", team)
        my.set_experiment("costs")
        my.register_prompt("qa", f"{team}: answer {{{{q}}}}")

        @my.trace
        def app(tokens: int = tokens) -> None:
            my.load_prompt("qa", version=1)
            _llm_call("gpt-4o", tokens, 0)

        app()
        my.tracing.flush()
    for team, cost in (("dev", 2.5), ("prod", 7.5)):
        monkeypatch.setenv("MLFLOW_WORKSPACE", team)
        got = client.prompt_version_usage("qa", 1)
        assert (got["traces"], got["cost"]) == (1, pytest.approx(cost)), team
