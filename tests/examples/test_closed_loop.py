"""examples/closed_loop: the whole loop on the bike excerpt — alert, retraining, gates, canary, swap, lineage."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .support import EXAMPLES, example_env, run


def test_the_closed_loop_runs_unattended(tmp_path: Path) -> None:
    out = run([sys.executable, str(EXAMPLES / "closed_loop" / "loop.py"), "--rows", "400"], tmp_path,
              example_env(tmp_path / "unused"), timeout=600).stdout
    assert "v1: gates passed" in out, out
    assert "ALERT demand drift: mae = " in out
    assert "retrained v2 (pipeline run by the alert); gates:" in out and "FAIL" not in out
    canary = next(line for line in out.splitlines() if line.startswith("canary"))
    assert "'1'" in canary and "'2'" in canary  # both variants answered during the canary
    assert "champion is now v2" in out
    lineage = json.loads(out.split("lineage of one prediction from v2:", 1)[1])
    assert lineage["pipeline_run"].endswith("(trigger:retrain-on-alert)")
    assert lineage["code"] == "bike_flows:retrain" and lineage["alert"].startswith("1: mae = ")
    assert set(lineage["gates"].values()) == {"passed"} and "complete" in lineage["promotion"]
    assert lineage["data"][0].startswith("bikes-2011+2012 (training")
