"""From notebook habits to a served model: a KNN and logistic-regression sweep on breast-cancer data.

What a course's lab does in a notebook, as one script:

1. a sweep of KNN and logistic regression, each candidate a nested run under one parent, with
   the training data logged as a dataset (name, digest, schema, context), params, tags, a
   description and system metrics;
2. the best run picked by a search ordered by test accuracy, and its model registered;
3. the new version moved through the registry: stage Staging and alias ``staging`` first, then,
   when it clears the accuracy gate, stage Production and alias ``champion`` (the previous
   Production version is archived);
4. a file of new rows to score in batch with ``modelyard predict``.

Run it:     python examples/tabular/train.py            (``--small`` for a 3-model sweep)
Then serve: modelyard serve models:/breast-cancer-classifier@champion
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import modelyard as my

EXPERIMENT = "breast-cancer-lab"
MODEL_NAME = "breast-cancer-classifier"
DATASET = "breast-cancer"
GATE = 0.95  # the test accuracy a version needs to become the champion


def load_data(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The breast-cancer data that ships with scikit-learn (no download), split 75/25."""
    frame = load_breast_cancer(as_frame=True).frame
    train, test = train_test_split(frame, test_size=0.25, random_state=seed, stratify=frame["target"])
    return train.reset_index(drop=True), test.reset_index(drop=True)


def sweep(small: bool) -> list[tuple[str, str, dict[str, Any]]]:
    """(run name, model family, params) of every candidate; ``small`` keeps three for CI."""
    knn = [(f"knn-k{k}-{w}", "KNN", {"n_neighbors": k, "weights": w})
           for k in (3, 7, 15) for w in ("uniform", "distance")]
    logreg = [(f"logreg-C{c:g}", "LogisticRegression", {"C": c}) for c in (0.01, 0.1, 1.0, 10.0)]
    return knn[:1] + logreg[1:3] if small else knn + logreg


def build(family: str, params: dict[str, Any]) -> Pipeline:
    estimator = (KNeighborsClassifier(**params) if family == "KNN"
                 else LogisticRegression(**params, max_iter=1000, random_state=0))
    return make_pipeline(StandardScaler(), estimator)


def scores(y_true: pd.Series, y_pred: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "f1": f1_score(y_true, y_pred),
        "precision": precision_score(y_true, y_pred, zero_division=0),
        "recall": recall_score(y_true, y_pred),
    }


def run_sweep(train: pd.DataFrame, test: pd.DataFrame, small: bool) -> str:
    """Train every candidate as a nested run; return the parent run's id."""
    x_train, y_train = train.drop(columns="target"), train["target"]
    x_test, y_test = test.drop(columns="target"), test["target"]
    dataset = my.data.from_pandas(train, name=DATASET, targets="target")
    with my.start_run(run_name="sweep", description="KNN and logistic regression on the breast-cancer data",
                      log_system_metrics=True) as parent:
        my.set_tags({"lab": "tabular", "stage": "model-selection"})
        my.log_input(dataset, context="training")
        for name, family, params in sweep(small):
            with my.start_run(run_name=name, nested=True, log_system_metrics=True):
                my.set_tags({"model": family, "mlflow.note.content": f"{family} with {params}, standardised inputs"})
                my.log_params({"model": family, **params})
                my.log_input(dataset, context="training")
                model = build(family, params).fit(x_train, y_train)
                my.log_metrics(scores(y_test, model.predict(x_test)))
                my.models.log_model(model, "model", input_example=x_train.head(3))
        return parent.info.run_id


def best_run(parent_id: str) -> my.Run:
    """The nested run with the best test accuracy (then F1; ties to the first trained)."""
    experiment = my.get_experiment_by_name(EXPERIMENT)
    ranked = my.search_runs(
        experiment_ids=[experiment.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_id}'",
        order_by=["metrics.accuracy DESC", "metrics.f1 DESC", "attributes.start_time ASC"],
        output_format="list",
    )
    return ranked[0]


def promote(version: str, accuracy: float) -> str:
    """Staging and ``staging`` first; Production and ``champion`` when the version clears the gate."""
    client = my.Client()
    client.update_registered_model(MODEL_NAME, description="Breast-cancer classifier (malignant 0 / benign 1)")
    client.update_model_version(MODEL_NAME, version, description=f"test accuracy {accuracy:.4f}")
    client.transition_model_version_stage(MODEL_NAME, version, "Staging")
    client.set_registered_model_alias(MODEL_NAME, "staging", version)
    if accuracy < GATE:
        return "staging"
    client.transition_model_version_stage(MODEL_NAME, version, "Production", archive_existing_versions=True)
    client.set_registered_model_alias(MODEL_NAME, "champion", version)
    return "champion"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a 3-model sweep (what CI runs)")
    parser.add_argument("--tracking-uri", default=None, help="default: MODELYARD_TRACKING_URI, else ./.modelyard/")
    parser.add_argument("--to-score", default="new_patients.csv", help="where to write rows for batch scoring")
    args = parser.parse_args()
    if args.tracking_uri:
        my.set_tracking_uri(args.tracking_uri)
    my.set_experiment(EXPERIMENT)

    train, test = load_data()
    parent_id = run_sweep(train, test, args.small)
    best = best_run(parent_id)
    accuracy = best.data.metrics["accuracy"]
    print(f"best run {best.info.run_name} ({best.info.run_id}): accuracy {accuracy:.4f}")
    version = str(my.models.register_model(f"runs:/{best.info.run_id}/model", MODEL_NAME).version)
    alias = promote(version, accuracy)
    print(f"registered {MODEL_NAME} version {version}, alias {alias}")

    test.drop(columns="target").to_csv(args.to_score, index=False)
    print(f"wrote {len(test)} rows to score to {Path(args.to_score).resolve()}\n")
    print(f"modelyard serve models:/{MODEL_NAME}@{alias}")
    print(f"modelyard predict models:/{MODEL_NAME}@{alias} --input {args.to_score} --output predictions.csv")


if __name__ == "__main__":
    main()
