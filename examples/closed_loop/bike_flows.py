"""The retraining pipeline of the closed loop, registered on the server (MODELYARD_PIPELINE_MODULES=bike_flows).

A monitor's alert fires the ``retrain`` trigger; the server's scheduler runs this pipeline: it
trains on the history (2011) and the recent labelled (2012) rows, weighted up, registers the new version with its evidence (tags, description,
training data, a held-out evaluation set, the reference profile), creates the monitor the
rollout's rule reads, and asks for promotion with a canary rollout. The server runs the gates;
nothing here can skip them.
"""

from __future__ import annotations

import os
import tempfile

import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

import modelyard as my

MODEL = "bikes"
FEATURES = ["season", "hr", "holiday", "workingday", "weathersit", "temp", "atemp", "hum", "windspeed"]
TARGET = "cnt"


def features(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers from the data set's labels (``1am`` -> 1, ``spring`` -> 0, ``Yes`` -> 1...)."""
    out = pd.DataFrame(index=frame.index)
    hr = frame["hr"].astype(str)
    out["season"] = frame["season"].map({"spring": 0, "summer": 1, "fall": 2, "winter": 3}).fillna(0).astype(float)
    out["hr"] = [(int(h[:-2]) % 12) + (12 if h.endswith("pm") else 0) if h[:-2].isdigit() else 0 for h in hr]
    out["hr"] = out["hr"].astype(float)
    out["holiday"] = (frame["holiday"] == "Yes").astype(float)
    out["workingday"] = (frame["workingday"] == "Yes").astype(float)
    out["weathersit"] = frame["weathersit"].map(
        {"Clear": 0, "Mist": 1, "Light Rain": 2, "Heavy Rain": 3}).fillna(1).astype(float)
    for col in ("temp", "atemp", "hum", "windspeed"):
        out[col] = frame[col].astype(float)
    return out[FEATURES]


def train_and_register(frame: pd.DataFrame, holdout: pd.DataFrame, data_version: str,
                       weight: pd.Series | None = None) -> str:
    """Fit, log with its evidence and register; the new version's number (inside an active run)."""
    X, y = features(frame), frame[TARGET].astype(float)
    model = HistGradientBoostingRegressor(max_iter=80, random_state=0).fit(X, y, sample_weight=weight)
    my.log_input(my.data.from_pandas(frame, name=f"bikes-{data_version}", targets=TARGET), context="training")
    folder = tempfile.mkdtemp(prefix="closed-loop-")
    X.to_csv(os.path.join(folder, "train.csv"), index=False)
    features(holdout).assign(cnt=holdout[TARGET].astype(float)).to_csv(os.path.join(folder, "eval.csv"), index=False)
    my.log_artifact(os.path.join(folder, "train.csv"))
    my.log_artifact(os.path.join(folder, "eval.csv"))
    my.log_metric("train_rows", len(X))
    info = my.models.log_model(model, "model", input_example=X.iloc[:5], reference_data=X, registered_model_name=MODEL)
    version = str(info.registered_model_version)
    c = my.Client()
    c.set_model_version_tag(MODEL, version, "team", "mobility")
    c.set_model_version_tag(MODEL, version, "data_version", data_version)
    c.update_model_version(MODEL, version, description=f"Hourly demand model trained on {data_version} ({len(X)} rows).")
    return version


@my.step(cache=False)
def retrain_on_recent(data: str, history: str, holdout_share: float, recent_weight: float) -> str:
    """All the history plus the recent labelled rows (weighted up), evaluated on recent rows it did not see."""
    recent, old = pd.read_csv(data), pd.read_csv(history)
    cut = int(len(recent) * (1 - holdout_share))
    frame = pd.concat([old, recent.iloc[:cut]], ignore_index=True)
    weight = pd.Series([1.0] * len(old) + [recent_weight] * cut)
    return train_and_register(frame, recent.iloc[cut:], "2011+2012", weight)


@my.step(cache=False)
def promote_with_canary(version: str, weight: float, max_mae: float) -> str:
    c = my.Client()
    c.create_monitor(f"{MODEL}-v{version}", MODEL, version=version, task="regression", window_rows=2000)
    rule = {"monitor": f"{MODEL}-v{version}", "metric": "mae", "op": ">", "threshold": max_mae, "steps": [weight, 1.0]}
    result = c.promote(MODEL, version, "champion", rollout={"mode": "canary", "weight": weight, "rule": rule})
    my.log_metric("gates_passed", float(result["passed"]))
    return str(result["id"])


@my.pipeline(name="retrain")
def retrain(data: str = "", history: str = "", holdout_share: float = 0.3, recent_weight: float = 4.0,
            weight: float = 0.5, max_mae: float = 150.0) -> my.pipelines.Handle:
    version = retrain_on_recent(data, history, holdout_share, recent_weight)
    return promote_with_canary(version, weight, max_mae)
