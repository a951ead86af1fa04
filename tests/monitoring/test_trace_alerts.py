"""Cost and latency alerts over traces: a monitor with ``source: {"kind": "traces"}`` against a live server
(SQLite and PostgreSQL), per prompt version and per experiment, through the monitoring machinery (rules,
cooldown, alert history, a signed ``monitor_alert.fired`` webhook)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import modelyard as my
from modelyard.entities.traces import Span, TraceInfo
from modelyard.errors import InvalidParameterValue
from tests.conftest import LiveServer
from tests.webhooks.conftest import SECRET, Receiver, receiver  # noqa: F401  (the fixture)


@pytest.fixture
def server(db_uri: str, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:  # noqa: F811
    monkeypatch.setenv("MODELYARD_WEBHOOK_POLL_INTERVAL", "0.2")
    live = LiveServer(db_uri, str(tmp_path / "artifacts"))
    try:
        yield live
    finally:
        live.stop()


def _trace(c: my.Client, exp_id: str, latency_ms: int, *, prompt: str | None = None, error: bool = False,
           tokens: tuple[int, int] = (1000, 500)) -> None:
    otel = os.urandom(16).hex()
    start_ns = time.time_ns() - 60_000_000_000  # a minute ago: inside the window
    attrs = {"mlflow.spanType": "LLM", "gen_ai.request.model": "gpt-x-1", "gen_ai.usage.input_tokens": tokens[0],
             "gen_ai.usage.output_tokens": tokens[1]}
    span = Span("tr-" + otel, os.urandom(8).hex(), None, "chat", "LLM", "ERROR" if error else "OK", None, start_ns,
                start_ns + latency_ms * 1_000_000, attrs, None, otel)
    tags = {"mlflow.traceName": "chat"}
    if prompt is not None:
        name, version = prompt.split("/")
        tags["mlflow.linkedPrompts"] = json.dumps([{"name": name, "version": version}])
    info = TraceInfo("tr-" + otel, exp_id, start_ns // 1_000_000, latency_ms, "ERROR" if error else "OK", tags=tags)
    c.log_trace(exp_id, [span], info)


def test_latency_and_cost_rules_over_a_prompts_traces_and_an_experiments(server: LiveServer,
                                                                         receiver: Receiver) -> None:  # noqa: F811
    c = my.Client(server.url)
    c.set_llm_price("gpt-x*", 1.0, 2.0)  # per million tokens: a trace of 1000 in, 500 out costs 0.002
    c.register_prompt("qa", "Answer {{question}}")
    c.set_prompt_alias("qa", "production", 1)
    exp_id = c.create_experiment("bot")
    for i in range(10):  # 100, 200, ..., 1000 ms; one failed
        _trace(c, exp_id, 100 * (i + 1), prompt="qa/1", error=i == 0)
    for _ in range(5):  # the same experiment, not using the prompt: slow and expensive
        _trace(c, exp_id, 5000, tokens=(10_000, 5_000))
    c.create_webhook("alerts", receiver.url, ["monitor_alert.fired"], secret=SECRET)

    rules = [{"name": "slow", "metric": "latency_p95_ms", "op": ">", "threshold": 900},
             {"name": "pricey", "metric": "cost_per_trace_mean", "op": ">", "threshold": 0.005}]
    c.create_monitor("qa-live", "qa", alias="production", window_minutes=60, source={"kind": "traces"},
                     rules=rules)
    first = c.run_monitor("qa-live")
    m = first["metrics"]
    assert (m["traces"], m["latency_p95_ms"], m["latency_mean_ms"], m["error_rate"]) == (10, 1000, 550, 0.1)
    assert m["cost_total"] == pytest.approx(0.02) and m["cost_per_trace_p95"] == pytest.approx(0.002)
    assert m["tokens_per_trace_mean"] == 1500
    assert first["report"]["watched"] == "traces of prompt qa version 1"
    alerts = c.list_alerts("qa-live")
    assert [(a["rule"], a["value"]) for a in alerts] == [("slow", 1000)]  # cost 0.002 is under 0.005

    c.run_monitor("qa-live")  # the same window again: the open alert is not repeated (cooldown)
    assert len(c.list_alerts("qa-live")) == 1 and len(c.monitor_results("qa-live")) == 2
    got = receiver.wait_for(1, timeout=60, where=lambda d: d.event == "monitor_alert.fired")
    assert got and got[0].signature_ok()
    assert got[0].json["data"]["monitor_name"] == "qa-live" and got[0].json["data"]["metric"] == "latency_p95_ms"
    page = httpx.get(f"{server.url}/monitors/qa-live")  # the monitor's page charts the trace metrics
    assert page.status_code == 200 and "latency_p95_ms" in page.text and "cost_per_trace_mean" in page.text

    # Per experiment: every trace of "bot", the prompt's and the others.
    c.create_monitor("bot-cost", "qa", alias="production", window_rows=1000, rules=rules,
                     source={"kind": "traces", "experiment_ids": [exp_id]})
    m = c.run_monitor("bot-cost")["metrics"]
    assert m["traces"] == 15 and m["cost_total"] == pytest.approx(10 * 0.002 + 5 * 0.02)
    assert m["latency_p95_ms"] == 5000
    assert {a["rule"] for a in c.list_alerts("bot-cost")} == {"slow", "pricey"}
    # The newest N traces only.
    c.update_monitor("bot-cost", window_rows=3)
    assert c.run_monitor("bot-cost")["metrics"]["traces"] == 3


def test_a_bad_source_is_refused_naming_the_field(server: LiveServer) -> None:
    c = my.Client(server.url)
    c.register_prompt("qa", "Answer {{question}}")
    with pytest.raises(InvalidParameterValue, match="source: .*kind.* one of .*traces"):
        c.create_monitor("m", "qa", version=1, source={"kind": "logs"})
    with pytest.raises(InvalidParameterValue, match="source.experiment_ids"):
        c.create_monitor("m", "qa", version=1, source={"kind": "traces", "experiment_ids": ["x"]})
    resp = httpx.post(server.url + "/api/2.0/modelyard/monitoring/monitors/create",
                      json={"name": "m", "model_name": "qa", "version": "1", "source": {"kind": "traces", "x": 1}})
    assert resp.status_code == 400 and "source: unknown field(s) ['x']" in resp.json()["message"]


def test_the_cli_creates_runs_and_lists_a_traces_monitor(server: LiveServer) -> None:
    from click.testing import CliRunner

    from modelyard.cli import main

    c = my.Client(server.url)
    c.set_llm_price("gpt-x*", 1.0, 2.0)
    c.register_prompt("qa", "Answer {{question}}")
    exp_id = c.create_experiment("bot-cli")
    for i in range(4):  # 100 to 400 ms, 0.002 each
        _trace(c, exp_id, 100 * (i + 1))
    runner = CliRunner()

    def cli(*args: str) -> str:
        out = runner.invoke(main, [*args, "--tracking-uri", server.url], catch_exceptions=False)
        assert out.exit_code == 0, out.output
        return out.output

    said = cli("monitor", "create", "bot-cost", "--model", "qa", "--version", "1", "--source", "traces",
               "--experiment", exp_id, "--window-minutes", "60", "--rule", "latency_p95_ms>300",
               "--rule", "cost_total>1")
    assert f"Created monitor bot-cost of qa version 1 over the traces of experiment(s) {exp_id}" in said
    assert c.get_monitor("bot-cost")["source"] == {"kind": "traces", "experiment_ids": [exp_id]}
    ran = cli("monitor", "run", "bot-cost")
    assert "ALERT latency_p95_ms > 300: latency_p95_ms = 400 > 300" in ran
    assert "error_rate" in ran and "ALERT cost_total" not in ran
    listed = cli("monitor", "results", "bot-cost")
    assert "LATENCY_P95_MS" in listed and "COST_TOTAL" in listed and "400" in listed

    said = cli("monitor", "create", "qa-cost", "--model", "qa", "--version", "1", "--source", "traces")
    assert "Created monitor qa-cost of qa version 1 over its traces" in said
    assert c.get_monitor("qa-cost")["source"] == {"kind": "traces"}
    bad = runner.invoke(main, ["monitor", "create", "x", "--model", "qa", "--version", "1", "--experiment", exp_id,
                               "--tracking-uri", server.url])
    assert bad.exit_code == 2 and "--experiment" in bad.output and "--source traces" in bad.output


TEAM_TRACES = (("dev", 2), ("prod", 3))


def _prompt_monitor_per_team(c: my.Client, monkeypatch: pytest.MonkeyPatch, name: str, **schedule: Any) -> None:
    """In ``dev`` and ``prod`` each: a prompt ``qa`` (two prompts of one name), an experiment with 2 and 3 traces
    that use its version 1, and a traces monitor ``name`` of that version. ``c`` follows MLFLOW_WORKSPACE."""
    from modelyard.api import schemas_workspaces as ws
    from modelyard.api.workspaces import CREATE_WORKSPACE

    for team, traces in TEAM_TRACES:
        monkeypatch.delenv("MLFLOW_WORKSPACE", raising=False)
        c._call(CREATE_WORKSPACE, ws.CreateWorkspace(name=team))
        monkeypatch.setenv("MLFLOW_WORKSPACE", team)
        c.register_prompt("qa", f"{team}: answer {{{{question}}}}")
        exp_id = c.create_experiment("bot")
        for i in range(traces):
            _trace(c, exp_id, 100 * (i + 1), prompt="qa/1")
        c.create_monitor(name, "qa", version=1, window_minutes=60, source={"kind": "traces"}, **schedule)


def test_a_prompt_monitor_watches_the_traces_of_its_own_workspace(server: LiveServer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Each workspace's monitor of its own prompt ``qa`` counts the traces of its workspace (2 and 3), not the
    other's."""
    c = my.Client(server.url)
    _prompt_monitor_per_team(c, monkeypatch, "qa-live")
    for team, traces in TEAM_TRACES:
        monkeypatch.setenv("MLFLOW_WORKSPACE", team)
        assert c.run_monitor("qa-live")["metrics"]["traces"] == traces, team


def test_the_scheduler_runs_each_workspaces_prompt_monitor_on_its_own_traces(db_uri: str, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside any request (the server's monitor scheduler), a monitor is known by its key (``dev:qa-sched``):
    it runs in its own workspace, where its prompt's name resolves, and counts that workspace's traces."""
    monkeypatch.setenv("MODELYARD_MONITOR_POLL_INTERVAL", "0.2")
    live = LiveServer(db_uri, str(tmp_path / "artifacts"))
    try:
        c = my.Client(live.url)
        _prompt_monitor_per_team(c, monkeypatch, "qa-sched", interval_s=10)
        for team, traces in TEAM_TRACES:
            monkeypatch.setenv("MLFLOW_WORKSPACE", team)
            results: list[dict[str, Any]] = []
            for _ in range(120):  # due 10 s after it was made; the scheduler looks every 0.2 s
                results = c.monitor_results("qa-sched")
                if results:
                    break
                time.sleep(0.25)
            assert results and results[-1]["metrics"]["traces"] == traces, (team, results)
    finally:
        live.stop()
