"""Each gate passes and fails on constructed cases, run by a real server on real models.

One server (SQLite; the store's side of promotion runs on PostgreSQL too in test_approvals.py)
holds a bike-demand-like regression: v1 a weak model, v2 a better one, v3 as weak as v1, v4
logged without signature or input example. Models load and score in the server's worker process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import modelyard as my
from tests.conftest import serving

linear = pytest.importorskip("sklearn.linear_model")


def frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"temp": rng.normal(20 + shift, 5, n), "hour": rng.integers(0, 24, n).astype(float)})
    X["cnt"] = 10 * X["temp"] + 3 * X["hour"] + rng.normal(0, 10, n)
    return X


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Any:
    folder = tmp_path_factory.mktemp("gates")
    with serving("sqlite", folder) as server:
        my.set_tracking_uri(server.url)
        try:
            c = my.Client()
            train, evaluation = frame(400, 0), frame(300, 1)
            X, y = train[["temp", "hour"]], train["cnt"]
            data = Path(folder) / "data"
            data.mkdir()
            evaluation.to_csv(data / "eval.csv", index=False)
            X.to_csv(data / "train.csv", index=False)
            X.assign(temp=X["temp"] + 100).to_csv(data / "train_bad.csv", index=False)
            with my.start_run() as run:
                my.log_artifact(str(data / "eval.csv"))
            eval_ref = f"runs:/{run.info.run_id}/eval.csv"
            weak = linear.LinearRegression().fit(X[["temp"]].assign(hour=0.0), y)  # ignores the hour
            strong = linear.LinearRegression().fit(X, y)
            for model, rmse in ((weak, 30.0), (strong, 10.0), (weak, 30.0)):
                with my.start_run():
                    my.log_metric("rmse", rmse)
                    my.log_artifact(str(data / "train.csv"))
                    my.log_artifact(str(data / "train_bad.csv"))
                    my.models.log_model(model, "model", input_example=X[:5], registered_model_name="bikes",
                                        reference_data=X)
            with my.start_run():
                my.models.log_model(strong, "model", registered_model_name="bikes")  # no signature, no example
            yield c, eval_ref
        finally:
            my.set_tracking_uri(None)


def _gate(c: Any, version: int, *gates: dict[str, Any], alias: str = "staging") -> list[dict[str, Any]]:
    c.set_promotion_policy("bikes", alias, {"gates": list(gates)})
    out = c.check_promotion("bikes", version, alias)
    assert out["passed"] == all(ch["passed"] for ch in out["checks"])
    return list(out["checks"])


def test_compliance_gates(world) -> None:
    c, _ = world
    tags = {"check": "required_tags", "tags": ["team", "data_version"]}
    [failed] = _gate(c, 2, tags)
    assert not failed["passed"] and failed["evidence"]["missing"] == ["team", "data_version"]
    assert "set team, data_version on version 2" in failed["fix"]
    c.set_model_version_tag("bikes", "2", "team", "mobility")
    c.set_model_version_tag("bikes", "2", "data_version", "2011")
    assert _gate(c, 2, tags)[0]["passed"]

    [short] = _gate(c, 2, {"check": "description", "min_length": 20})
    assert not short["passed"] and "0 characters" in short["message"]
    c.update_model_version("bikes", "2", description="Linear demand model on temperature and hour.")
    assert _gate(c, 2, {"check": "description", "min_length": 20})[0]["passed"]

    sig, example = _gate(c, 2, {"check": "signature"}, {"check": "input_example"})
    assert sig["passed"] and example["passed"] and sig["evidence"]["signature"]["inputs"]
    sig, example = _gate(c, 4, {"check": "signature"}, {"check": "input_example"})
    assert not sig["passed"] and not example["passed"] and "infer_signature" in sig["fix"]


def test_metric_threshold_reads_the_versions_run(world) -> None:
    c, _ = world
    gate = {"check": "metric_threshold", "metric": "rmse", "op": "<=", "threshold": 15}
    assert _gate(c, 2, gate)[0]["passed"]
    [failed] = _gate(c, 1, gate)
    assert not failed["passed"] and failed["evidence"]["value"] == 30.0
    assert "misses rmse <= 15 by 15" in failed["message"]
    [missing] = _gate(c, 1, {**gate, "metric": "mape"})
    assert not missing["passed"] and "no metric 'mape'" in missing["message"]


def test_challenger_against_baseline_then_champion(world) -> None:
    c, eval_ref = world
    gate = {"check": "challenger", "dataset": eval_ref, "target": "cnt", "metric": "rmse", "min_effect": 2.0,
            "baseline": 60.0, "n_boot": 300}
    c.set_promotion_policy("bikes", "champion", {"gates": [gate]})
    first = c.promote("bikes", 1, "champion")  # no champion yet: v1 (rmse ~ 30) beats the baseline 60
    assert first["passed"] and first["moved"], first["checks"]
    assert "baseline" in first["checks"][0]["message"]
    assert c.get_model_version_by_alias("bikes", "champion").version == "1"

    same = c.promote("bikes", 3, "champion")  # as weak as the champion: no improvement
    assert not same["passed"] and not same["moved"] and same["failed_checks"] == ["challenger"]
    check = same["checks"][0]
    assert check["evidence"]["test"] == "paired_bootstrap" and abs(check["evidence"]["improvement"]) < 1e-6
    assert "would" not in check["message"] and "beats champion v1" in check["fix"]
    assert c.get_model_version_by_alias("bikes", "champion").version == "1"

    better = c.promote("bikes", 2, "champion")
    assert better["passed"] and better["moved"], better["checks"]
    ev = better["checks"][0]["evidence"]
    assert ev["champion"] > ev["challenger"] + 2 and ev["lower_bound"] > 2.0
    assert c.get_model_version_by_alias("bikes", "champion").version == "2"

    # every run recorded, on the version and in the audit trail
    history = c.list_promotions("bikes")
    assert [(p["version"], p["status"]) for p in history] == [("2", "passed"), ("3", "failed"), ("1", "passed")]
    assert '"status": "failed"' in c.get_model_version("bikes", "3").tags["modelyard.promotion.champion"]
    audit = [(e.action, str(e.version), e.new_value) for e in c.registry_audit("bikes")]
    assert ("promotion_gates", "3", "failed (promotion 2); failed: challenger") in audit
    moves = [(a, v) for a, v, _ in audit if a == "set_registered_model_alias"]
    assert moves == [("set_registered_model_alias", "1"), ("set_registered_model_alias", "2")]


def test_budget_measured_in_a_worker(world) -> None:
    c, _ = world
    [gate] = _gate(c, 2, {"check": "budget", "max_latency_ms": 5000, "max_size_mb": 0.000001})
    evidence = gate["evidence"]
    assert evidence["size_bytes"] > 0 and evidence["latency_ms"]["p95"] > 0 and evidence["rows"] == 5
    assert not gate["passed"] and "is over 1e-06 MB by" in gate["message"]
    assert "latency" not in gate["message"]  # the latency budget held; only the size one failed


def test_data_quality_of_the_training_data_against_the_profile(world) -> None:
    c, _ = world
    [ok] = _gate(c, 2, {"check": "data_quality", "data": "train.csv", "reference": "self"})
    assert ok["passed"], ok["message"]
    [bad] = _gate(c, 2, {"check": "data_quality", "data": "train_bad.csv", "reference": "self"})
    assert not bad["passed"] and "out_of_range:temp" in bad["evidence"]["failed"]
    [missing] = _gate(c, 2, {"check": "data_quality", "data": "nope.csv"})
    assert not missing["passed"] and "no such artifact" in missing["message"]
