"""``modelyard monitor ...`` in process: drift on files with HTML and JSON reports, references, monitors, alerts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from modelyard.cli import main
from modelyard.client import Client
from modelyard.client.uri import set_tracking_uri

from .conftest import reference_frame, requests


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    for name in ("MODELYARD_TRACKING_URI", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    set_tracking_uri(None)
    runner = CliRunner()
    yield lambda *args: runner.invoke(main, list(args), catch_exceptions=False)
    set_tracking_uri(None)


def _frames(columns: int, rows: int, shift: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(columns)})
    cur = pd.DataFrame({f"x{i}": rng.normal(shift if i < 3 else 0.0, size=rows) for i in range(columns)})
    ref["plan"] = rng.choice(["a", "b", "c"], rows)
    cur["plan"] = rng.choice(["a", "b", "d"], rows)
    return ref, cur


def test_drift_writes_a_small_self_contained_report_and_the_json(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ref, cur = _frames(49, 3000, 0.5)
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_csv(tmp_path / "cur.csv", index=False)
    out: Result = cli("monitor", "drift", "--reference", "ref.parquet", "--current", "cur.csv",
                      "--report", "out.html", "--json", "out.json")
    assert out.exit_code == 0, out.output
    assert "Dataset drift: 4 of 50 columns drifted" in out.output
    body = json.loads((tmp_path / "out.json").read_text())
    assert body["dataset_drift"] is True and body["share_drifted"] == pytest.approx(4 / 50)
    col = body["columns"][0]
    assert {"column", "kind", "method", "statistic", "p_value", "threshold", "drift"} <= set(col)
    assert col["method"] == "wasserstein" and col["p_value"] is None and col["from_sketch"] is False
    assert "unseen_categories:plan" in body["quality"]["failed"]
    page = (tmp_path / "out.html").read_text()
    assert len(page.encode()) < 1_000_000 and "<script" not in page and "http" not in page.split("<body>")[1]
    assert page.count("<svg") == 50


def test_drift_against_a_stored_profile_says_it_used_the_sketch(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ref, cur = _frames(3, 500, 1.0)
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    assert cli("monitor", "profile", "ref.csv", "--out", "p.json").exit_code == 0
    out = cli("monitor", "drift", "--reference", "p.json", "--current", "cur.csv", "--json", "-",
              "--method", "x0=psi")
    body = json.loads(out.output)
    assert body["columns"][0]["method"] == "psi" and body["columns"][1]["method"] == "ks"
    assert body["columns"][1]["from_sketch"] is True


def test_bad_input_is_an_error_not_a_traceback(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = cli("monitor", "drift", "--reference", "nope.csv", "--current", "nope.csv")
    assert out.exit_code == 1 and "No file at 'nope.csv'" in out.output
    (tmp_path / "a.txt").write_text("x\n1\n")
    pd.DataFrame({"x": range(200)}).to_csv(tmp_path / "r.csv", index=False)
    out = cli("monitor", "drift", "--reference", "r.csv", "--current", "r.csv", "--method", "x")
    assert out.exit_code == 2 and "COLUMN=METHOD" in out.output
    out = cli("monitor", "drift", "--reference", "r.csv", "--current", "r.csv", "--method", "x=magic")
    assert out.exit_code == 1 and "'magic' is unknown" in out.output


def test_reference_monitor_run_and_alerts(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    c = Client(str(tmp_path / ".modelyard"))
    c.create_registered_model("churn")
    mv = c.create_model_version("churn", "s3://bucket/churn/1")
    c.set_registered_model_alias("churn", "champion", mv.version)
    c.log_inference_requests(requests(mv.version, 300, shift=20))
    c.close()
    pd.DataFrame(reference_frame()).to_parquet(tmp_path / "train.parquet")
    out = cli("monitor", "reference", "set", "churn", "1", "train.parquet")
    assert "Reference of churn version 1: 2000 rows, 2 columns." in out.output, out.output
    assert "age" in cli("monitor", "reference", "get", "churn", "1").output
    out = cli("monitor", "create", "live", "--model", "churn", "--alias", "champion", "--rule", "share_drifted>0.3")
    assert "Created monitor live of churn @champion, on demand, 1 rule(s)." in out.output
    assert cli("monitor", "create", "x", "--model", "churn", "--rule", "f1 = 3").exit_code == 2
    out = cli("monitor", "update", "live", "--interval", "3600", "--rule", "share_drifted>0.9", "--rule", "f1<0.5")
    assert "Updated monitor live of churn @champion, every 3600 s, 2 rule(s)." in out.output, out.output
    out = cli("monitor", "update", "live", "--interval", "0", "--rule", "share_drifted>0.3")  # back to on demand
    assert "Updated monitor live of churn @champion, on demand, 1 rule(s)." in out.output, out.output
    (rule,) = json.loads(cli("monitor", "update", "live", "--json").output)["monitor"]["rules"]  # nothing given: unchanged
    assert (rule["metric"], rule["op"], rule["threshold"]) == ("share_drifted", ">", 0.3)
    out = cli("monitor", "update", "nope", "--interval", "60")
    assert out.exit_code == 1 and "nope" in out.output
    assert cli("monitor", "update", "live", "--trigger", "retrain").exit_code == 2
    out = cli("monitor", "run", "live")
    assert "share_drifted" in out.output and "ALERT share_drifted > 0.3" in out.output
    alerts = json.loads(cli("monitor", "alerts", "live", "--json").output)["alerts"]
    assert len(alerts) == 1
    assert "is acknowledged" in cli("monitor", "ack", alerts[0]["id"]).output
    assert "300" in cli("monitor", "results", "live").output
    assert "live" in cli("monitor", "list").output
    assert "Deleted monitor live." in cli("monitor", "delete", "live").output
