"""Model performance once labels arrive, and estimated from the model's confidence before they do.

- ``classification``: accuracy, precision, recall and F1 (binary: of the
  positive class; more classes: macro averages), ROC AUC when the positive
  class's probabilities are given;
- ``multilabel`` (each prediction a set of tags): Jaccard index (mean per
  row), micro and macro F1, F1 per label, and the prediction rate (the share
  of rows given any tag at all);
- ``regression``: MAE, RMSE, mean error (bias).

:func:`estimate_performance` is confidence-based performance estimation (as
NannyML's CBPE) for a calibrated binary classifier: the expected confusion
matrix from the positive-class probabilities gives expected accuracy,
precision, recall and F1 with no label at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InvalidParameterValue

__all__ = ["TASKS", "estimate_from_probabilities", "estimate_performance", "performance", "probabilities_from_records",
           "rows_from_records"]

TASKS = ("classification", "multilabel", "regression")


def performance(task: str, y_true: Sequence[Any], y_pred: Sequence[Any], *, proba: Sequence[float] | None = None,
                positive: Any = 1) -> dict[str, Any]:
    """Scores of ``y_pred`` against ``y_true`` for ``task`` (``classification``, ``multilabel``, ``regression``).

    >>> performance("regression", [1.0, 2.0], [1.5, 2.0])["mae"]
    0.25
    """
    if task not in TASKS:
        raise InvalidParameterValue(f"task: {task!r} is unknown; use one of {', '.join(TASKS)}.")
    if len(y_true) != len(y_pred):
        raise InvalidParameterValue(f"y_true has {len(y_true)} rows and y_pred {len(y_pred)}; give one label per prediction.")
    if task == "regression":
        return _regression(y_true, y_pred)
    if task == "multilabel":
        return _multilabel(y_true, y_pred)
    return _classification(y_true, y_pred, proba, positive)


def _regression(y_true: Sequence[Any], y_pred: Sequence[Any]) -> dict[str, Any]:
    try:
        t = np.asarray(y_true, dtype=np.float64)
        p = np.asarray(y_pred, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameterValue("regression needs numeric labels and predictions; got non-numbers.") from None
    ok = ~(np.isnan(t) | np.isnan(p))
    err = p[ok] - t[ok]
    if not len(err):
        return {"rows": 0, "mae": None, "rmse": None, "mean_error": None}
    return {"rows": int(ok.sum()), "mae": float(np.abs(err).mean()), "rmse": float(math.sqrt(np.mean(err**2))),
            "mean_error": float(err.mean())}


def _f1(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _classification(y_true: Sequence[Any], y_pred: Sequence[Any], proba: Sequence[float] | None,
                    positive: Any) -> dict[str, Any]:
    t = np.asarray([str(v) for v in y_true], dtype=object)
    p = np.asarray([str(v) for v in y_pred], dtype=object)
    n = len(t)
    if not n:
        return {"rows": 0, "accuracy": None, "precision": None, "recall": None, "f1": None}
    labels = sorted(set(t.tolist()) | set(p.tolist()))
    out: dict[str, Any] = {"rows": n, "accuracy": float((t == p).mean())}
    if len(labels) <= 2:
        pos = str(positive)
        tp = float(((p == pos) & (t == pos)).sum())
        fp = float(((p == pos) & (t != pos)).sum())
        fn = float(((p != pos) & (t == pos)).sum())
        out["precision"], out["recall"], out["f1"] = _f1(tp, fp, fn)
    else:
        scores = [_f1(float(((p == c) & (t == c)).sum()), float(((p == c) & (t != c)).sum()),
                      float(((p != c) & (t == c)).sum())) for c in labels]
        out["precision"], out["recall"], out["f1"] = (float(np.mean([s[i] for s in scores])) for i in range(3))
    if proba is not None:
        out["roc_auc"] = _roc_auc(t == str(positive), np.asarray(proba, dtype=np.float64))
    return out


def _roc_auc(truth: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC by ranks (the Mann-Whitney statistic, ties counted half)."""
    n_pos, n_neg = int(truth.sum()), int((~truth).sum())
    if not n_pos or not n_neg:
        return None
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    sorted_scores = score[order]
    # average ranks over ties
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], len(score)]
    avg = (starts + ends - 1) / 2 + 1
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[truth].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _as_set(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, (list, tuple, set, frozenset)):
        return frozenset(str(v) for v in value)
    return frozenset([str(value)])


def _multilabel(y_true: Sequence[Any], y_pred: Sequence[Any]) -> dict[str, Any]:
    truth = [_as_set(v) for v in y_true]
    pred = [_as_set(v) for v in y_pred]
    n = len(truth)
    if not n:
        return {"rows": 0, "jaccard": None, "f1_micro": None, "f1_macro": None, "prediction_rate": None,
                "per_label_f1": {}}
    jaccard = [len(a & b) / len(a | b) if a | b else 1.0 for a, b in zip(truth, pred, strict=True)]
    labels = sorted(set().union(*truth, *pred))
    per_label: dict[str, float] = {}
    tp_all = fp_all = fn_all = 0
    for label in labels:
        tp = sum(1 for a, b in zip(truth, pred, strict=True) if label in a and label in b)
        fp = sum(1 for a, b in zip(truth, pred, strict=True) if label not in a and label in b)
        fn = sum(1 for a, b in zip(truth, pred, strict=True) if label in a and label not in b)
        per_label[label] = _f1(tp, fp, fn)[2]
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
    return {
        "rows": n, "jaccard": float(np.mean(jaccard)), "f1_micro": _f1(tp_all, fp_all, fn_all)[2],
        "f1_macro": float(np.mean(list(per_label.values()))) if per_label else 0.0,
        "prediction_rate": sum(1 for b in pred if b) / n, "per_label_f1": per_label,
    }


def prediction_rate(y_pred: Sequence[Any]) -> float | None:
    """The share of predictions that say anything (not None, not an empty list)."""
    if not len(y_pred):
        return None
    return sum(1 for v in y_pred if v is not None and v != [] and v != "") / len(y_pred)


def estimate_performance(proba: Sequence[float], threshold: float = 0.5) -> dict[str, Any]:
    """Expected accuracy, precision, recall and F1 of a binary classifier from its positive-class probabilities."""
    p = np.asarray(proba, dtype=np.float64)
    p = p[~np.isnan(p)]
    if not len(p):
        return {"rows": 0, "accuracy": None, "precision": None, "recall": None, "f1": None}
    if p.min() < 0 or p.max() > 1:
        raise InvalidParameterValue("proba: probabilities must lie in [0, 1].")
    positive = p >= threshold
    tp, fp = float(p[positive].sum()), float((1 - p[positive]).sum())
    fn, tn = float(p[~positive].sum()), float((1 - p[~positive]).sum())
    precision, recall, f1 = _f1(tp, fp, fn)
    return {"rows": len(p), "accuracy": (tp + tn) / len(p), "precision": precision, "recall": recall, "f1": f1,
            "estimated": True}


def _output_rows(rec: Any) -> list[Any]:
    out = rec.outputs
    if isinstance(out, dict):
        out = out.get("predictions", out.get("outputs", out))
    return out if isinstance(out, list) else [out]


def rows_from_records(records: Sequence[Any], task: str) -> tuple[list[Any], list[Any], list[Any]]:
    """(inputs, predictions, labels) per row from request-log records (``.inputs``, ``.outputs``, ``.label``).

    A request's ``outputs`` is a list of per-row predictions (one per input row);
    its label is a list of the same length, or one value for a single row.
    Labels not yet arrived are ``None``.
    """
    preds: list[Any] = []
    labels: list[Any] = []
    inputs: list[Any] = []
    for rec in records:
        rows = _output_rows(rec)
        label = rec.label
        if isinstance(label, list) and len(label) == len(rows) and (task != "multilabel" or
                                                                   all(isinstance(x, list) for x in label)):
            labs = label
        elif len(rows) == 1:
            labs = [label]
        else:
            labs = [None] * len(rows)
        preds.extend(rows)
        labels.extend(labs)
        inputs.append(rec.inputs)
    return inputs, preds, labels


def probabilities_from_records(records: Sequence[Any]) -> tuple[list[Any] | None, list[list[float] | None]]:
    """(the classes, each row's class probabilities or None), rows aligned with :func:`rows_from_records`.

    A request's ``probabilities`` is ``{"classes", "data"}`` as the serving
    request log writes it; rows of a request without them, or with other
    classes than the first request that had them, are None.
    """
    classes: list[Any] | None = None
    out: list[list[float] | None] = []
    for rec in records:
        n = len(_output_rows(rec))
        probs = getattr(rec, "probabilities", None)
        if not isinstance(probs, dict):
            out.extend([None] * n)
            continue
        data = probs.get("data")
        if isinstance(data, list) and len(data) == n and isinstance(probs.get("classes"), list):
            if classes is None:
                classes = probs["classes"]
            if probs["classes"] == classes:
                out.extend(data)
                continue
        out.extend([None] * n)
    return classes, out


def estimate_from_probabilities(classes: Sequence[Any], rows: Sequence[Sequence[float]]) -> dict[str, Any]:
    """Confidence-based performance estimate from each row's class probabilities (predicted class: the most probable).

    Two classes: :func:`estimate_performance` of the second class's probability
    (scikit-learn's positive class), so expected accuracy, precision, recall and
    F1. More classes: the expected accuracy, the mean probability of the
    predicted class.
    """
    p = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(classes))
    if len(classes) == 2:
        return {**estimate_performance(p[:, 1].tolist()), "positive": classes[1]}
    if not len(p):
        return {"rows": 0, "accuracy": None, "estimated": True}
    return {"rows": len(p), "accuracy": float(p.max(axis=1).mean()), "estimated": True}
