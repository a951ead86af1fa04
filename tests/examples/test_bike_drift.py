"""examples/bike_drift: 2012's demand drifts from 2011's, the weather does not; the report is written."""

from __future__ import annotations

import sys
from pathlib import Path

from .support import EXAMPLES, example_env, run


def test_bike_drift_finds_the_demand_shift(tmp_path: Path) -> None:
    excerpt = Path(__file__).parents[1] / "monitoring" / "data" / "bike_excerpt.csv"
    out = run([sys.executable, str(EXAMPLES / "bike_drift" / "drift.py"), "--data", str(excerpt),
               "--report", str(tmp_path / "r.html")], tmp_path, example_env(tmp_path / "store")).stdout
    lines = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert "reference 2011: 400 rows, current 2012: 400 rows" in out
    for column in ("cnt", "registered"):
        assert lines[column].endswith("DRIFT"), out
    assert lines["windspeed"].endswith("-"), out
    assert "dataset drift:" in out and (tmp_path / "r.html").stat().st_size < 200_000
