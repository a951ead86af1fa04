"""Performance metrics agree with scikit-learn; confidence-based estimates track the realised values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from modelyard.errors import InvalidParameterValue
from modelyard.monitoring import estimate_performance, performance
from modelyard.monitoring.performance import prediction_rate, rows_from_records


def test_binary_and_multiclass_agree_with_sklearn() -> None:
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    score = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1)
    got = performance("classification", y.tolist(), p.tolist(), proba=score.tolist())
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, p))
    assert got["f1"] == pytest.approx(skm.f1_score(y, p))
    assert got["precision"] == pytest.approx(skm.precision_score(y, p))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score))
    y3, p3 = rng.integers(0, 3, 300), rng.integers(0, 3, 300)
    got = performance("classification", y3.tolist(), p3.tolist())
    assert got["f1"] == pytest.approx(skm.f1_score(y3, p3, average="macro"))


def test_multilabel_jaccard_f1_and_prediction_rate() -> None:
    truth = [["python", "pandas"], ["sql"], ["python"], []]
    pred = [["python"], ["sql", "python"], [], ["r"]]
    got = performance("multilabel", truth, pred)
    labels = ["pandas", "python", "r", "sql"]
    yt = np.array([[lab in t for lab in labels] for t in truth])
    yp = np.array([[lab in q for lab in labels] for q in pred])
    assert got["jaccard"] == pytest.approx(skm.jaccard_score(yt, yp, average="samples", zero_division=1.0))
    assert got["f1_micro"] == pytest.approx(skm.f1_score(yt, yp, average="micro"))
    assert got["f1_macro"] == pytest.approx(skm.f1_score(yt, yp, average="macro", zero_division=0.0))
    assert got["per_label_f1"]["sql"] == pytest.approx(skm.f1_score(yt[:, 3], yp[:, 3]))
    assert got["prediction_rate"] == 0.75 and prediction_rate([None, [], [1], 2]) == 0.5


def test_regression() -> None:
    got = performance("regression", [1.0, 2.0, 3.0], [1.5, 2.0, 2.0])
    assert got["mae"] == pytest.approx(skm.mean_absolute_error([1, 2, 3], [1.5, 2, 2]))
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error([1, 2, 3], [1.5, 2, 2])))
    with pytest.raises(InvalidParameterValue, match="one label per prediction"):
        performance("regression", [1.0], [1.0, 2.0])
    with pytest.raises(InvalidParameterValue, match="task: 'ranking'"):
        performance("ranking", [], [])


def test_confidence_based_estimate_tracks_the_realised_accuracy() -> None:
    rng = np.random.default_rng(1)
    proba = rng.beta(2, 2, 20_000)
    truth = rng.random(20_000) < proba  # calibrated by construction
    pred = proba >= 0.5
    est = estimate_performance(proba)
    assert est["accuracy"] == pytest.approx(float((pred == truth).mean()), abs=0.01)
    assert est["f1"] == pytest.approx(skm.f1_score(truth, pred), abs=0.01)


def test_rows_from_request_log_records() -> None:
    class Rec:
        def __init__(self, inputs, outputs, label):  # type: ignore[no-untyped-def]
            self.inputs, self.outputs, self.label = inputs, outputs, label

    recs = [Rec({"columns": ["a"], "data": [[1], [2]]}, [0, 1], [0, 0]), Rec({}, [1], 1), Rec({}, [1, 1], None)]
    _, preds, labels = rows_from_records(recs, "classification")
    assert preds == [0, 1, 1, 1, 1] and labels == [0, 0, 1, None, None]
