"""examples/daily_dag: a registered daily pipeline, scheduled, backfilled over a week with one failed day, resumed."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from modelyard.client import Client

from .support import EXAMPLES, example_env, run

pytest.importorskip("sklearn")
pytest.importorskip("skops")

SCRIPT = EXAMPLES / "daily_dag" / "run_week.sh"
DAYS = [f"2024-03-0{d}" for d in range(1, 8)]
MODEL = "daily-breast-cancer"


def test_a_week_backfilled_one_day_failed_and_resumed(tmp_path: Path) -> None:
    store = tmp_path / "store"
    # inline keeps the CI slice short; the README's run uses the default process executor
    proc = run(["bash", str(SCRIPT)], tmp_path, example_env(store, EXECUTOR="inline", ROWS="200"))
    out, progress = proc.stdout, proc.stderr

    assert "daily_training  daily_training:daily_training  setting" in out  # registered by the setting
    assert "7 tick(s) run, 1 failed." in out
    failed_line = next(line for line in out.splitlines() if "  FAILED  " in line)
    assert failed_line.startswith("2024-03-05T02:00:00+00:00")
    failed_run = failed_line.split()[-1]
    assert progress.count("retry  register") == 2  # retries=2, then the day fails
    assert "FAILED  register" in progress and "model registry unreachable on 2024-03-05" in progress
    resumed_progress = progress.split("FAILED  register")[-1]
    for step in ("prepare", "train", "evaluate"):
        assert f"reused  {step}" in resumed_progress
    assert "ok  register" in resumed_progress
    assert f"FINISHED {failed_run}" in out  # the resume

    with closing(Client(str(store))) as client:
        [schedule] = client.list_pipeline_schedules()
        assert (schedule["name"], schedule["cron"], schedule["reference"]) == ("daily-training", "0 2 * * *",
                                                                             "daily_training")
        runs = client.search_pipeline_runs("daily_training").items
        assert len(runs) == 7 and {r.status for r in runs} == {"FINISHED"}
        assert sorted(r.params["logical_date"][:10] for r in runs) == DAYS
        assert {r.trigger for r in runs} == {"backfill:daily-training"}

        # The resumed day reused what it had and ran register again (which had used its retries).
        resumed = client.get_pipeline_run(failed_run)
        assert [s.task_key for s in resumed.steps] == ["prepare", "train", "evaluate", "register"]
        assert resumed.step("register").status == "FINISHED"
        step_run = client.get_run(resumed.step("evaluate").run_id)
        assert step_run.data.metrics["accuracy"] >= 0.9

        # One version per day, tagged with it; the resumed (older) day did not take the champion alias.
        versions = client.search_model_versions(f"name = '{MODEL}'").items
        assert sorted(v.tags["logical_date"] for v in versions) == DAYS
        champion = client.get_model_version_by_alias(MODEL, "champion")
        assert champion.tags["logical_date"] == "2024-03-07"
        latest = max(versions, key=lambda v: int(v.version))
        assert latest.tags["logical_date"] == "2024-03-05" and "champion" not in latest.aliases
