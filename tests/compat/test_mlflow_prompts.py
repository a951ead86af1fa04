"""MLflow 3.17's prompt registry, driven by the official client against a live server (SQLite and PostgreSQL).

In MLflow OSS a prompt is a registered model tagged ``mlflow.prompt.is_prompt=true`` and each
prompt version a model version whose tags hold the template (``mlflow.prompt.text``), its type
and the commit message as the description; the client does the rest. The server must accept the
placeholder source the client sends, hide prompts from model searches and models from prompt
searches, and answer the client's filters (``tags.`mlflow.prompt.is_prompt` = 'true'``,
``tags._mlflow_experiment_ids LIKE '%,1,%'``, ``version_number DESC``).
"""

from __future__ import annotations

import json
import os
import time
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
