"""Rollouts in the store and their rule on live monitoring metrics, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from modelyard.errors import InvalidParameterValue, InvalidState
from modelyard.monitoring import profile
from tests.conftest import make_service
from tests.monitoring.conftest import reference_frame, requests

RULE = {"monitor": "v2-live", "metric": "share_drifted", "op": ">", "threshold": 0.3, "steps": [0.1, 0.5, 1.0]}


@pytest.fixture
def svc(db_uri: str, tmp_path):  # type: ignore[no-untyped-def]
    svc = make_service(db_uri, tmp_path)
    svc.webhooks.embedded_delivery = False
    svc.registry.create_registered_model("churn")
    for _ in range(3):
        svc.registry.create_model_version("churn", "s3://bucket/churn")
    svc.registry.set_registered_model_alias("churn", "champion", "1")
    for v in ("2", "3"):
        svc.monitoring.set_reference("churn", v, profile(reference_frame()))
    yield svc
    svc.close()


def test_the_rule_advances_on_good_metrics_then_completes(svc) -> None:  # type: ignore[no-untyped-def]
    svc.monitoring.create_monitor("v2-live", "churn", version="2", window_rows=500)
    r = svc.rollouts.start("churn", "champion", "2", "canary", 0.1, RULE)
    assert (r.stable_version, r.candidate_version, r.state) == ("1", "2", "running")
    svc.inference.log_requests(requests("2", 300))  # no drift
    steps = [svc.rollouts.step("churn", "champion") for _ in range(3)]
    assert [(s["action"], s["rollout"]["mode"], s["rollout"]["weight"]) for s in steps] == [
        ("advance", "canary", 0.5), ("advance", "all", 1.0), ("complete", "all", 1.0)]
    assert svc.registry.get_model_version_by_alias("churn", "champion").version == "2"
    with pytest.raises(InvalidState, match="is completed"):
        svc.rollouts.step("churn", "champion")


def test_the_rule_rolls_back_on_drift_and_the_alias_stays(svc) -> None:  # type: ignore[no-untyped-def]
    svc.monitoring.create_monitor("v2-live", "churn", version="2", window_rows=500)
    svc.rollouts.start("churn", "champion", "2", "shadow", 0.0, RULE)
    svc.inference.log_requests(requests("2", 300, shift=25))  # drifted traffic
    done = svc.rollouts.step("churn", "champion")
    assert done["action"] == "rollback" and done["rollout"]["state"] == "rolled_back"
    assert svc.rollouts.get("churn", "champion").spec["reason"].startswith("share_drifted = ")
    assert svc.registry.get_model_version_by_alias("churn", "champion").version == "1"
    actions = [e.action for e in svc.registry.audit("churn").items if e.action.startswith("rollout_")]
    assert actions == ["rollout_start", "rollout_rollback"]


def test_a_rollout_cannot_skip_the_gates_or_take_bad_input(svc) -> None:  # type: ignore[no-untyped-def]
    svc.promotion.set_policy("churn", "champion", {"gates": [{"check": "required_tags", "tags": ["team"]}]})
    with pytest.raises(InvalidState, match="has not passed the gates"):
        svc.rollouts.start("churn", "champion", "2")
    svc.registry.set_model_version_tag("churn", "2", "team", "risk")
    done = svc.promotion.promote("churn", "2", "champion", rollout={"mode": "canary", "weight": 0.2})
    assert done["passed"] and done["rollout"] and not done["moved"]
    assert svc.rollouts.get("churn", "champion").weight == 0.2
    with pytest.raises(InvalidState, match="being rolled out"):
        svc.rollouts.start("churn", "champion", "3")
    with pytest.raises(InvalidParameterValue, match="weight: 2"):
        svc.rollouts.update("churn", "champion", weight=2)
    with pytest.raises(InvalidParameterValue, match="mode: 'blue'"):
        svc.rollouts.update("churn", "champion", mode="blue")
    with pytest.raises(InvalidParameterValue, match="rule.op"):
        svc.rollouts.start("churn", "champion", "2", rule={**RULE, "op": "=="})
    with pytest.raises(InvalidState, match="has no rule"):
        svc.rollouts.step("churn", "champion")
    assert svc.rollouts.rollback("churn", "champion").state == "rolled_back"
