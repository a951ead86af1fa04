"""The pipelines service on SQLite and PostgreSQL: recording, schedules once per tick, backfill, triggers."""

from __future__ import annotations

import uuid

import pytest

from modelyard.errors import (
    InvalidParameterValue,
    PermissionDenied,
    ResourceAlreadyExists,
)
from modelyard.server.workers.scheduler import Scheduler
from modelyard.service import TrackingService

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z


def _step(pipeline_run: str, key: str, status: str, **extra):
    return {"pipeline_run_uuid": pipeline_run, "task_key": key, "step": key, "run_uuid": uuid.uuid4().hex,
            "status": status, "experiment_id": "0", "tags": {"mlflow.parentRunId": pipeline_run}, **extra}


def test_record_creates_nested_runs_and_lineage(service):
    parent = service.runs.create("0", run_name="p").info.run_id
    a = _step(parent, "load", "FINISHED", params={"n": "3"}, metrics=[["rows", 3.0, 1, 0]], output={"kind": "json", "value": 3, "hash": "h1"})
    b = _step(parent, "train", "FAILED", inputs=[{"name": "x", "task_key": "load", "hash": "h1"}], error="boom")
    service.pipelines.record({"pipeline_run": {"run_uuid": parent, "pipeline": "p", "status": "FAILED"}, "steps": [a, b],
                              "cache_entries": [{"cache_key": "k1", "pipeline": "p", "step": "load", "run_uuid": a["run_uuid"],
                                                 "output": a["output"]}]})
    run = service.runs.get(a["run_uuid"])
    assert run.data.tags["mlflow.parentRunId"] == parent and run.data.params == {"n": "3"}
    assert run.data.metrics == {"rows": 3.0} and run.info.status == "FINISHED"
    assert service.runs.get(b["run_uuid"]).info.status == "FAILED"
    lineage = service.pipelines.lineage(b["run_uuid"])  # a step's run finds its pipeline run
    assert lineage["pipeline_run"]["run_id"] == parent
    assert lineage["edges"] == [{"from_task": "load", "from_run_id": a["run_uuid"], "to_task": "train",
                                 "to_run_id": b["run_uuid"], "input": "x", "content_hash": "h1"}]
    assert service.pipelines.cache_keys("p") == ["k1"]
    assert service.pipelines.list_runs("p")["pipeline_runs"][0]["status"] == "FAILED"
    b2 = dict(b, status="FINISHED", error=None)
    service.pipelines.record({"steps": [b2]})  # a later record updates the same step run
    assert service.runs.get(b["run_uuid"]).info.status == "FINISHED"
    assert service.pipelines.cache_clear("p") == 1


def test_two_schedulers_fire_each_tick_once(service, db_uri, tmp_path):
    other = TrackingService(service.settings)  # a second server process over the same store
    try:
        service.pipelines.create_schedule("every10s", "adder", "*/10 * * * * *", {"k": "v"}, now=T0)
        now = [T0 + 10_000]
        launched: list[list[str]] = []
        a = Scheduler(service, clock=lambda: now[0] / 1000, launcher=launched.append, tracking_uri="http://x")
        b = Scheduler(other, clock=lambda: now[0] / 1000, launcher=launched.append, tracking_uri="http://x")
        assert a.tick() + b.tick() == 1
        assert a.tick() + b.tick() == 0
        now[0] = T0 + 45_000  # missed 20s, 30s, 40s: without catch-up only the latest runs
        assert b.tick() + a.tick() == 1
        ticks = service.pipelines.schedule_ticks("every10s")
        assert [t["tick_time"] for t in ticks] == [T0 + 40_000, T0 + 10_000]
        args = launched[0]
        assert args[args.index("--logical-date") + 1].startswith("2023-11-14T22:13:30")
        assert "--tick-id" in args and '{"k": "v"}' in args
        service.pipelines.set_schedule_paused("every10s", True)
        now[0] = T0 + 80_000
        assert a.tick() + b.tick() == 0
    finally:
        other.close()


def test_catchup_and_backfill(service):
    service.pipelines.create_schedule("hourly", "adder", "0 * * * *", catchup=True, now=T0)
    won = service.pipelines.due_ticks(T0 + 3 * 3_600_000 + 5)
    assert len(won) == 3
    claimed = service.pipelines.claim_backfill("hourly", T0, T0 + 5 * 3_600_000)
    assert len(claimed) == 2  # 02:00 and 03:00: the three ticks already run are not claimed again
    with pytest.raises(ResourceAlreadyExists):
        service.pipelines.create_schedule("hourly", "adder", "0 * * * *")
    with pytest.raises(InvalidParameterValue):
        service.pipelines.create_schedule("bad", "adder", "every day")


def test_triggers_http_token_and_model_versions(service):
    made = service.pipelines.create_trigger("on-http", "http", "adder", {"a": 1})
    with pytest.raises(PermissionDenied):
        service.pipelines.fire_trigger("on-http", {}, token="wrong", authenticate=True)
    with pytest.raises(PermissionDenied):
        service.pipelines.fire_trigger("nope", {}, token=made["token"], authenticate=True)
    first = service.pipelines.fire_trigger("on-http", {"x": 1}, dedupe_key="alert-7", token=made["token"], authenticate=True)
    again = service.pipelines.fire_trigger("on-http", {"x": 1}, dedupe_key="alert-7", token=made["token"], authenticate=True)
    assert first["event_id"] and again["duplicate"]

    service.registry.create_registered_model("churn", {}, None)
    service.pipelines.create_trigger("on-model", "model_version", "adder", config={"model": "churn"})
    run = service.runs.create("0")
    service.registry.create_model_version("churn", f"{run.info.artifact_uri}/model", run.info.run_id)
    assert service.pipelines.poll_model_versions() == 1
    assert service.pipelines.poll_model_versions() == 0
    events = service.pipelines.claim_events()
    assert {e["trigger"]["name"] for e in events} == {"on-http", "on-model"}
    assert service.pipelines.claim_events() == []
    by_name = {e["trigger"]["name"]: e for e in events}
    assert by_name["on-model"]["payload"]["model_version"] == "1"
