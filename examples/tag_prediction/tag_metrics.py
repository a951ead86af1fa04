"""The scores of a multi-label tagger, from lists of tags: Jaccard, micro and macro F1, prediction rate."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.metrics import f1_score, jaccard_score
from sklearn.preprocessing import MultiLabelBinarizer


def tag_scores(true: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, float]:
    """Mean per-row Jaccard index and micro/macro F1 over the tags seen in either side."""
    binarizer = MultiLabelBinarizer().fit([*true, *predicted])
    y_true, y_pred = binarizer.transform(true), binarizer.transform(predicted)
    return {
        "jaccard": float(jaccard_score(y_true, y_pred, average="samples", zero_division=1.0)),
        "f1_micro": float(f1_score(y_true, y_pred, average="micro", zero_division=0.0)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0.0)),
        "prediction_rate": sum(1 for p in predicted if p) / len(predicted),
    }
