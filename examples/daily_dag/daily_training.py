"""A daily training DAG, as a course shows with Airflow: prepare → train → evaluate → register.

Each day's run (its ``logical_date``, given by the schedule or a backfill) trains a
logistic regression on that day's snapshot of the breast-cancer data, scores it on the
day's hold-out rows and, when it clears ``min_accuracy``, registers it as a new version
of ``daily-breast-cancer`` (tagged with its day) and points the ``champion`` alias at it,
unless the champion already comes from a later day.

The server runs only pipelines its operator registered: this module is registered with
``MODELYARD_PIPELINE_MODULES=daily_training`` (it must be importable, e.g. with
``PYTHONPATH=examples/daily_dag``), and the pipeline is then known by its name,
``daily_training``.

Injected failure: set ``DAILY_DAG_FAIL_DAY=2024-03-05`` and that day's ``register`` step
fails (as if the registry were unreachable) on each of its attempts; ``modelyard pipelines
resume RUN_ID`` without the variable re-runs only that step, reusing the day's prepared
data, model and scores.
"""

from __future__ import annotations

import datetime as dt
import os

import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import modelyard as my

MODEL_NAME = "daily-breast-cancer"
FAIL_DAY = "DAILY_DAG_FAIL_DAY"


@my.step
def prepare(day: str, rows: int) -> pd.DataFrame:
    """The day's snapshot: ``rows`` rows drawn with the day as the seed, a ``split`` column marking hold-out rows."""
    frame = load_breast_cancer(as_frame=True).frame
    seed = int(day.replace("-", ""))
    snapshot = frame.sample(n=min(rows, len(frame)), random_state=seed).reset_index(drop=True)
    snapshot["split"] = ["test" if i % 4 == 0 else "train" for i in range(len(snapshot))]
    my.log_input(my.data.from_pandas(snapshot, name=f"breast-cancer-{day}", targets="target"), context="training")
    return snapshot


@my.step
def train(data: pd.DataFrame, c: float) -> Pipeline:
    rows = data[data["split"] == "train"]
    my.log_params({"C": c, "train_rows": len(rows)})
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000, random_state=0))
    return model.fit(rows.drop(columns=["target", "split"]), rows["target"])


@my.step
def evaluate(model: Pipeline, data: pd.DataFrame) -> dict[str, float]:
    rows = data[data["split"] == "test"]
    predicted = model.predict(rows.drop(columns=["target", "split"]))
    scores = {"accuracy": accuracy_score(rows["target"], predicted), "f1": f1_score(rows["target"], predicted)}
    my.log_metrics(scores)
    return scores


@my.step(retries=2, retry_delay=0.5, cache=False)  # a side effect: never skipped as cached
def register(model: Pipeline, scores: dict[str, float], day: str, min_accuracy: float) -> str:
    """Register the day's model when it clears the gate and make it the champion; the version, or ''."""
    if os.environ.get(FAIL_DAY) == day:
        raise ConnectionError(f"model registry unreachable on {day} (injected by {FAIL_DAY})")
    if scores["accuracy"] < min_accuracy:
        return ""
    info = my.models.log_model(model, "model", registered_model_name=MODEL_NAME)
    version = str(info.registered_model_version)
    client = my.Client()
    client.set_model_version_tag(MODEL_NAME, version, "logical_date", day)
    if day >= _champion_day(client):  # a late (resumed or backfilled) day never replaces a newer day's model
        client.set_registered_model_alias(MODEL_NAME, "champion", version)
    return version


def _champion_day(client: my.Client) -> str:
    """The logical date of the current champion, or '' when there is none yet."""
    champion = client.get_registered_model(MODEL_NAME).aliases.get("champion")
    return client.get_model_version(MODEL_NAME, champion).tags.get("logical_date", "") if champion else ""


@my.pipeline(name="daily_training")
def daily_training(logical_date: dt.datetime, c: float = 1.0, rows: int = 400,
                   min_accuracy: float = 0.9) -> my.pipelines.Handle:
    day = logical_date.date().isoformat()
    data = prepare(day, rows)
    model = train(data, c)
    scores = evaluate(model, data)
    return register(model, scores, day, min_accuracy)
