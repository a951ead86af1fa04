"""``modelyard pipelines ...`` through click's CliRunner."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner

from modelyard.cli import main

FLOWS = os.path.join(os.path.dirname(__file__), "flows.py")
SHAPES = os.path.join(os.path.dirname(__file__), "shapes_template.py")


def _cli(store: str, *args: str):
    return CliRunner().invoke(main, ["pipelines", *args, "--tracking-uri", store], catch_exceptions=False)


def test_run_list_show_cache(store):
    out = _cli(store, "run", f"{FLOWS}:adder", "-p", "a=3", "-p", "b=4", "--executor", "inline")
    assert out.exit_code == 0, out.output
    assert "ok  add" in out.output  # live progress
    run_id = out.output.strip().splitlines()[-1].split()[1]
    again = _cli(store, "run", f"{FLOWS}:adder", "-p", "a=3", "-p", "b=4", "--executor", "inline", "--json")
    assert set(json.loads(again.output)["tasks"].values()) == {"CACHED"}
    listed = _cli(store, "list")
    assert run_id in listed.output and "adder" in listed.output
    shown = _cli(store, "show", run_id)
    assert "add#2" in shown.output and "FINISHED" in shown.output
    assert json.loads(_cli(store, "show", run_id, "--json").output)["params"] == {"a": 3, "b": 4, "model_version": "0"}
    assert "add" in _cli(store, "cache", "list").output
    assert "Deleted 2 cache entries." in _cli(store, "cache", "clear", "--pipeline", "adder").output
    bad = _cli(store, "run", f"{FLOWS}:adder", "-p", "a=x", "--executor", "inline")
    assert bad.exit_code == 1 and "[parameter-type]" in bad.output and "flows.py:" in bad.output


def test_failure_then_resume(store, tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    (work / "broken").touch()
    failed = _cli(store, "run", f"{SHAPES}:linear", "-p", f"workdir={work}", "-p", "mode=fail", "--executor", "inline")
    assert failed.exit_code == 1 and "modelyard pipelines resume" in failed.output
    run_id = failed.output.split("resume ")[-1].split()[0]
    (work / "broken").unlink()
    resumed = _cli(store, "resume", run_id)
    assert resumed.exit_code == 0 and "reused  source" in resumed.output and f"FINISHED {run_id}" in resumed.output


def test_schedule_and_backfill(store, registered):
    refused = _cli(store, "schedule", "create", "nightly", f"{FLOWS}:daily", "--cron", "0 3 * * *")
    assert refused.exit_code != 0 and "names a file or module" in refused.output
    assert "MODELYARD_PIPELINE_MODULES" in refused.output and "daily" in refused.output  # how to, and what is registered
    listed = _cli(store, "list", "--registered")
    assert "tests.pipelines.flows:daily" in listed.output and "setting" in listed.output
    out = _cli(store, "schedule", "create", "nightly", "daily", "--cron", "0 3 * * *", "-p", "note=bf",
               "--executor", "inline")
    assert out.exit_code == 0 and "0 3 * * *" in out.output
    assert "nightly" in _cli(store, "schedule", "list").output
    assert "Paused" in _cli(store, "schedule", "pause", "nightly").output
    assert "paused" in _cli(store, "schedule", "list").output
    assert "Resumed" in _cli(store, "schedule", "resume", "nightly").output
    bf = _cli(store, "backfill", "nightly", "--start", "2024-01-01", "--end", "2024-01-03T12:00", "--quiet")
    assert bf.exit_code == 0, bf.output
    assert "3 tick(s) run, 0 failed." in bf.output and "2024-01-02T03:00:00+00:00  FINISHED" in bf.output
    again = _cli(store, "backfill", "nightly", "--start", "2024-01-01", "--end", "2024-01-03T12:00", "--quiet")
    assert "0 tick(s) run" in again.output  # ticks already run are not run twice
    explicit = _cli(store, "backfill", "nightly", "--start", "2024-01-04", "--end", "2024-01-04T12:00", "--quiet",
                    "--reference", f"{FLOWS}:daily")  # the local CLI runs the file its user names
    assert explicit.exit_code == 0 and "1 tick(s) run, 0 failed." in explicit.output
    trig = _cli(store, "trigger", "create", "t1", "adder", "--kind", "api")
    assert "token:" in trig.output and "Queued event" in _cli(store, "trigger", "fire", "t1", "-p", "b=1").output
