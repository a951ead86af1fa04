"""Promotion gates on a prompt's alias, end to end against a real server (SQLite and PostgreSQL).

An ``evaluation`` gate reads the newest evaluation run of the prompt version
(``my.tracing.evaluate(..., prompts=[...])``); promotion is refused while its score is under the bar,
the protected ``production`` alias refuses the official mlflow client and our SDK, and moves only
through promotion (SDK and REST).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import modelyard as my

POLICY = {"gates": [{"check": "evaluation", "metric": "mentions/mean", "op": ">=", "threshold": 0.75,
                     "name": "quality"}]}
DATA = [{"inputs": {"question": "refunds?"}, "expectations": {"answer": "30 days"}},
        {"inputs": {"question": "hours?"}, "expectations": {"answer": "9 to 5"}}]


def mentions(outputs: str, expectations: dict[str, Any]) -> bool:
    return expectations["answer"] in outputs


@pytest.fixture
def server(live_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("MLFLOW_TRACKING_URI", "MODELYARD_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    my.set_tracking_uri(live_server.url)
    yield live_server
    my.set_tracking_uri(None)


def test_an_evaluation_gate_guards_a_prompts_protected_alias(server) -> None:
    import mlflow

    client = my.Client(server.url)
    my.set_experiment("support-evals")
    v1 = my.register_prompt("support_bot", "Answer {{question}}.")
    v2 = my.register_prompt("support_bot", "Answer {{question}} with the number of days or hours.")
    rest = httpx.Client(base_url=server.url, timeout=60)
    assert rest.post("/api/2.0/modelyard/registered-models/alias/protect",
                     json={"name": "support_bot", "alias": "production"}).status_code == 200
    client.set_promotion_policy("support_bot", "production", POLICY)

    # No evaluation yet: refused, saying what would pass.
    refused = client.promote("support_bot", 1, "production")
    assert not refused["moved"] and refused["failed_checks"] == ["quality"]
    assert "no finished evaluation of prompts:/support_bot/1" in refused["checks"][0]["message"]
    assert "prompts=['prompts:/support_bot/1']" in refused["checks"][0]["fix"]

    # v1 scores 0.5 (under the bar), v2 scores 1.0.
    weak = my.tracing.evaluate(DATA, [mentions], predict_fn=lambda question: "30 days", prompts=[v1],
                               use_cache=False)
    strong = my.tracing.evaluate(DATA, [mentions], predict_fn=lambda question: "30 days or 9 to 5",
                                 prompts=[v2], use_cache=False)
    assert (weak.metrics["mentions/mean"], strong.metrics["mentions/mean"]) == (0.5, 1.0)

    under = client.promote("support_bot", 1, "production")
    check = under["checks"][0]
    assert not under["moved"] and not check["passed"]
    assert check["evidence"]["run_id"] == weak.run_id and check["evidence"]["value"] == 0.5
    assert "misses mentions/mean >= 0.75 by 0.25" in check["message"]
    with pytest.raises(my.ModelyardError):
        my.load_prompt("prompts:/support_bot@production")  # the alias did not move

    # The protected alias refuses the official client and our SDK, whatever the scores.
    mlflow.set_tracking_uri(server.url)
    with pytest.raises(Exception, match="protected"):
        mlflow.genai.set_prompt_alias("support_bot", "production", 2)
    with pytest.raises(my.ModelyardError, match="protected"):
        client.set_prompt_alias("support_bot", "production", 2)

    # Promotion over REST: the gate passes for v2 and the alias moves.
    resp = rest.post("/api/2.0/modelyard/promotion/promote",
                     json={"name": "support_bot", "version": "2", "alias": "production"})
    assert resp.status_code == 200, resp.text
    promotion = resp.json()["promotion"]
    assert promotion["moved"] and promotion["checks"][0]["evidence"]["run_id"] == strong.run_id
    assert my.load_prompt("prompts:/support_bot@production").version == 2
    assert mlflow.genai.load_prompt("prompts:/support_bot@production").version == 2
    history = client.list_promotions("support_bot")
    assert [p["status"] for p in history] == ["passed", "failed", "failed"]


def test_a_bad_evaluation_gate_is_refused_naming_the_field(server) -> None:
    client = my.Client(server.url)
    my.register_prompt("p", "Hi {{name}}")
    bad = {"gates": [{"check": "evaluation", "metric": "m/mean", "op": "=>", "threshold": 1}]}
    with pytest.raises(my.ModelyardError, match=r"policy.gates\[0\].op: '=>' is not valid; use one of"):
        client.set_promotion_policy("p", "production", bad)
    missing = {"gates": [{"check": "evaluation", "metric": "m/mean"}]}
    with pytest.raises(my.ModelyardError, match=r"policy.gates\[0\].threshold: missing"):
        client.set_promotion_policy("p", "production", missing)
