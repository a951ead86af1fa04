"""Our SDK's prompt registry embedded: register, load by version and alias, links to runs and traces."""

from __future__ import annotations

import json

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


def test_register_load_and_link(embedded):
    exp = my.set_experiment("prompts")
    v1 = my.register_prompt("qa", "Answer {{ question }} briefly.", commit_message="first", tags={"team": "s"})
    v2 = my.register_prompt("qa", "Answer {{question}} as a {{persona}}.", commit_message="persona")
    assert (v1.version, v2.version, v2.variables) == (1, 2, ["question", "persona"])
    my.set_prompt_alias("qa", "production", 1)
    assert my.load_prompt("prompts:/qa@production").format(question="why?") == "Answer why? briefly."
    assert my.load_prompt("qa").version == 2
    assert my.load_prompt("qa", version=1).commit_message == "first"
    assert [p.name for p in my.search_prompts()] == ["qa"]

    client = my.Client()
    client.create_registered_model("a-model")
    with pytest.raises(my.ModelyardError, match="same name"):
        my.register_prompt("a-model", "x")
    with pytest.raises(my.ModelyardError, match="not a prompt"):
        my.load_prompt("a-model", version=1)
    with pytest.raises(my.ModelyardError, match="Invalid prompt name"):
        my.register_prompt("bad name!", "x")

    @my.trace
    def ask(question: str) -> str:
        return str(my.load_prompt("prompts:/qa@production").format(question=question))

    with my.start_run() as run:
        ask("why?")
    trace_id = my.tracing.last_trace_id()
    my.tracing.flush()
    assert json.loads(client.get_run(run.info.run_id).data.tags["mlflow.linkedPrompts"]) == [
        {"name": "qa", "version": "1"}]
    found = client.search_traces([exp.experiment_id], "prompt = 'qa/1'")
    assert [t.trace_id for t in found] == [trace_id]
    assert list(client.search_traces([exp.experiment_id], "prompt = 'qa/2'")) == []

    my.delete_prompt_alias("qa", "production")
    with pytest.raises(my.ModelyardError):
        my.load_prompt("prompts:/qa@production")
    client.delete_prompt("qa")
    assert list(my.search_prompts()) == []
