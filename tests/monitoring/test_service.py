"""Monitors over the request log on SQLite and PostgreSQL: runs, rules, alerts with their webhook events."""

from __future__ import annotations

import pytest

from modelyard.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from modelyard.monitoring import profile

from .conftest import reference_frame, requests


def test_reference_profiles_are_stored_per_version(service) -> None:  # type: ignore[no-untyped-def]
    prof = service.monitoring.get_reference("churn", "1")
    assert prof["rows"] == 2000 and [c["name"] for c in prof["columns"]] == ["age", "plan"]
    with pytest.raises(ResourceDoesNotExist, match="no reference profile"):
        service.monitoring.delete_reference("churn", "9")
    with pytest.raises(ResourceDoesNotExist):
        service.monitoring.set_reference("nope", "1", prof)


def test_too_small_a_reference_is_refused_naming_the_minimum(service) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidParameterValue, match="at least 100"):
        profile(reference_frame(20))
    small = profile(reference_frame(50), min_rows=10)
    with pytest.raises(InvalidParameterValue, match="at least 100 .*MODELYARD_MONITORING_MIN_REFERENCE_ROWS"):
        service.monitoring.set_reference("churn", "1", small)
    with pytest.raises(InvalidParameterValue, match="not a reference profile"):
        service.monitoring.set_reference("churn", "1", {"rows": 5})


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "exactly one of version"),
    ({"alias": "champion", "version": "1"}, "exactly one of version"),
    ({"alias": "champion", "task": "ranking"}, "task: 'ranking'"),
    ({"alias": "champion", "interval_s": 1}, "interval_s: 1"),
    ({"alias": "champion", "window_rows": 0}, "window_rows: 0"),
    ({"alias": "champion", "rules": [{"metric": "f1", "op": "!=", "threshold": 1}]}, r"rules\[0\].op"),
    ({"alias": "champion", "rules": [{"metric": "f1", "threshold": "high"}]}, r"rules\[0\].threshold"),
    ({"alias": "champion", "colour": "red"}, "unknown field"),
])
def test_bad_monitors_are_refused_naming_the_field(service, kwargs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidParameterValue, match=message):
        service.monitoring.create_monitor("m", "churn", **kwargs)
    assert service.monitoring.list_monitors() == []


def test_monitor_run_scores_the_window_and_alerts_once(service) -> None:  # type: ignore[no-untyped-def]
    hook = service.webhooks.create_webhook("alerts", "http://127.0.0.1:9/hook", ["monitor_alert.fired"])
    service.inference.log_requests(requests("1", 400, shift=15))
    service.inference.log_feedback([{"request_id": f"r{i}", "label": i % 2} for i in range(300)])
    service.monitoring.create_monitor(
        "churn-live", "churn", alias="champion", task="classification", window_rows=1000,
        rules=[{"metric": "share_drifted", "op": ">", "threshold": 0.3}, {"metric": "accuracy", "op": "<", "threshold": 0.99}])
    with pytest.raises(ResourceAlreadyExists):
        service.monitoring.create_monitor("churn-live", "churn", alias="champion")
    result = service.monitoring.run_monitor("churn-live")
    m = result.metrics
    assert result.model_version == "1" and result.rows == 400 and result.labelled == 300
    assert m["dataset_drift"] == 1.0 and m["drift.age"] > 0.1 and m["prediction_rate"] == 1.0
    assert 0 <= m["accuracy"] <= 1 and "f1" in m
    assert result.report["drift"]["columns"][0]["from_sketch"] is True
    alerts = service.monitoring.alerts("churn-live")
    assert sorted(a.rule for a in alerts) == ["accuracy < 0.99", "share_drifted > 0.3"]
    # The webhook events were written with the alerts, one per alert.
    events = service.webhooks.deliveries(hook.webhook_id).items
    assert [d.event for d in events] == ["monitor_alert.fired"] * 2
    # A second run: the same alerts are still open and within their cooldown, so nothing new fires.
    service.monitoring.run_monitor("churn-live")
    assert len(service.monitoring.alerts("churn-live")) == 2
    # Acknowledged alerts may fire again.
    for a in alerts:
        assert service.monitoring.acknowledge_alert(str(a.id), "ana").status == "acknowledged"
    service.monitoring.run_monitor("churn-live")
    assert len(service.monitoring.alerts("churn-live", status="open")) == 2
    assert [r.rows for r in service.monitoring.results("churn-live")] == [400, 400, 400]
    # The scores are also a run's metrics, one step per monitor run.
    run_id = service.monitoring.get_monitor("churn-live").spec["run_id"]
    run = service.runs.get(run_id)
    assert run.data.metrics["share_drifted"] == 0.5 and run.data.tags["modelyard.monitor"] == "churn-live"
    assert [m.step for m in service.runs.metric_history(run_id, "share_drifted")] == [1, 2, 3]


def test_consecutive_runs_are_required_before_an_alert(service) -> None:  # type: ignore[no-untyped-def]
    service.inference.log_requests(requests("1", 200, shift=20))
    service.monitoring.create_monitor("m", "churn", version="1",
                                      rules=[{"metric": "share_drifted", "op": ">=", "threshold": 0.5, "consecutive": 3}])
    for expected in (0, 0, 1):
        service.monitoring.run_monitor("m")
        assert len(service.monitoring.alerts("m")) == expected


def test_a_window_without_a_reference_still_scores_what_it_can(service) -> None:  # type: ignore[no-untyped-def]
    mv = service.registry.create_model_version("churn", "s3://bucket/churn/2")
    service.inference.log_requests(requests(mv.version, 50))
    service.monitoring.create_monitor("m2", "churn", version=mv.version)
    r = service.monitoring.run_monitor("m2")
    assert "no reference profile" in r.report["note"] and r.metrics["prediction_rate"] == 1.0


def test_due_monitors_are_claimed_once(service) -> None:  # type: ignore[no-untyped-def]
    service.monitoring.create_monitor("sched", "churn", alias="champion", interval_s=60)
    created = service.monitoring.get_monitor("sched")
    due = created.next_run_ms
    assert service.monitoring.run_due(due - 1) == []
    store = service.store.monitoring
    assert store.claim_due(due, 60_000) == ["sched"]
    assert store.claim_due(due, 60_000) == []  # leased
    ran = service.monitoring.run_due(due + 60_001)  # the lease ran out: taken over
    assert [r.monitor_name for r in ran] == ["sched"]
    assert service.monitoring.get_monitor("sched").next_run_ms == due + 60_001 + 60_000


def test_gauges_have_bounded_labels(service) -> None:  # type: ignore[no-untyped-def]
    service.inference.log_requests(requests("1", 100))
    service.monitoring.create_monitor("g", "churn", alias="champion")
    service.monitoring.run_monitor("g")
    gauges = service.monitoring.gauges()
    names = {(n, labels.get("metric") or labels.get("feature")) for n, labels, _ in gauges}
    assert ("modelyard_monitor_feature_drift", "age") in names and ("modelyard_monitor_metric", "share_drifted") in names
    assert all(labels["monitor"] == "g" and labels["version"] == "1" for _, labels, _ in gauges)


def test_an_alert_starts_the_retraining_pipeline_once(db_uri: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import make_service

    from .conftest import reference_frame

    svc = make_service(db_uri, tmp_path, pipeline_modules="tests.pipelines.flows")
    try:
        svc.registry.create_registered_model("churn")
        svc.registry.create_model_version("churn", "s3://bucket/churn/1")
        svc.monitoring.set_reference("churn", "1", profile(reference_frame()))
        svc.inference.log_requests(requests("1", 200, shift=20))
        with pytest.raises(InvalidParameterValue, match=r"rules\[0\].trigger: no pipeline trigger named 'retrain'"):
            svc.monitoring.create_monitor("m", "churn", version="1",
                                          rules=[{"metric": "share_drifted", "op": ">", "threshold": 0.3, "trigger": "retrain"}])
        svc.pipelines.create_trigger("retrain", "api", "adder", {"a": 1})
        svc.monitoring.create_monitor("m", "churn", version="1", rules=[
            {"metric": "share_drifted", "op": ">", "threshold": 0.3, "trigger": "retrain", "cooldown_s": 0}])
        svc.monitoring.run_monitor("m")
        events = svc.pipelines.trigger_events("retrain")
        assert len(events) == 1
        alert = svc.monitoring.alerts("m")[0]
        assert str(alert.id) in str(events[0])
    finally:
        svc.close()


def test_update_monitor_changes_what_it_watches_and_its_rules(service) -> None:  # type: ignore[no-untyped-def]
    service.monitoring.create_monitor("u", "churn", alias="champion", window_rows=100)
    m = service.monitoring.update_monitor("u", version="1", interval_s=60,
                                          rules=[{"metric": "f1", "op": "<", "threshold": 0.7}])
    assert (m.alias, m.model_version, m.interval_s, m.spec["window_rows"]) == (None, "1", 60, 100)
    assert m.spec["rules"][0]["name"] == "f1 < 0.7" and m.next_run_ms is not None
    with pytest.raises(InvalidParameterValue, match="thresholds"):
        service.monitoring.update_monitor("u", thresholds={"ks": 0.2})
    with pytest.raises(ResourceDoesNotExist):
        service.monitoring.update_monitor("nope", version="1")
    service.monitoring.delete_monitor("u")
    assert service.monitoring.list_monitors() == []
