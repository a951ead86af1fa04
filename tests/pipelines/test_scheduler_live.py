"""Schedules and HTTP triggers fired by running servers: two server processes over one store, each tick once."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from modelyard import Client

from ..conftest import LiveServer
from .conftest import wait_for


def test_schedule_fires_once_per_tick_with_two_servers(tmp_path, registered):
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    artifacts = str(tmp_path / "artifacts")
    a, b = LiveServer(db, artifacts), LiveServer(db, artifacts)
    try:
        c = Client(a.url)
        c.create_pipeline_schedule("every-second", "daily", "* * * * * *", {"note": "tick"}, executor="inline")
        try:
            wait_for(lambda: len(c.get_pipeline_schedule_ticks("every-second")) >= 2)
        except AssertionError:
            print(Path(a.log.name).read_text()[-3000:], Path(b.log.name).read_text()[-3000:])
            raise
        c.pause_pipeline_schedule("every-second")
        time.sleep(1.0)
        ticks = c.get_pipeline_schedule_ticks("every-second")
        wait_for(lambda: all(t["pipeline_run_uuid"] for t in c.get_pipeline_schedule_ticks("every-second")))
        ticks = c.get_pipeline_schedule_ticks("every-second")
        runs = c.search_pipeline_runs("daily").items
        assert len(runs) == len(ticks) >= 2  # one run per tick, whichever server won it
        assert len({t["tick_time"] for t in ticks}) == len(ticks)
        assert {t["pipeline_run_uuid"] for t in ticks} == {r.run_id for r in runs}
        done = wait_for(lambda: [r for r in c.search_pipeline_runs("daily").items if r.status == "FINISHED"])
        rec = c.get_pipeline_run(done[0].run_id)
        assert rec.trigger == "schedule:every-second" and rec.output["value"].startswith("tick@")
        assert "logical_date" in rec.params
    finally:
        a.stop()
        b.stop()


def test_http_trigger_with_token_starts_a_run(tmp_path, registered):
    server = LiveServer(f"sqlite:///{tmp_path / 'db.sqlite'}", str(tmp_path / "artifacts"))
    try:
        c = Client(server.url)
        trig = c.create_pipeline_trigger("retrain", "http", "adder", {"a": 5}, executor="inline")
        url = f"{server.url}/api/2.0/modelyard/pipelines/triggers/fire"
        denied = httpx.post(url, json={"name": "retrain"}, headers={"Authorization": "Bearer wrong"})
        assert denied.status_code == 403
        ok = httpx.post(url, json={"name": "retrain", "payload": {"b": 10, "unknown": 1}},
                        headers={"Authorization": f"Bearer {trig['token']}"})
        assert ok.status_code == 200 and ok.json()["event_id"]
        runs = wait_for(lambda: [r for r in c.search_pipeline_runs("adder").items if r.status == "FINISHED"])
        assert c.get_pipeline_run(runs[0].run_id).output["value"] == 15
        assert c.get_pipeline_trigger_events("retrain")[0]["status"] == "launched"
    finally:
        server.stop()
