"""The served tagger: text features, one logistic regression per tag, the tags over a threshold.

Saved without pickle: modelyard's plain-Python flavor stores this class's import path
plus its state, the JSON values in ``state.json`` and the numpy arrays in ``state.npz``
(vocabulary and idf weights, or the SVD projection; the regression coefficients; the tag
names). So ``modelyard serve`` loads it with default flags, as long as this folder is on
``PYTHONPATH`` for the class to be imported.

Two kinds of features:

- ``tfidf``: word TF-IDF (scikit-learn's ``TfidfVectorizer`` with sublinear tf);
- ``lsa``: a dense 128-dimensional text embedding, hashed word counts reduced by truncated
  SVD (latent semantic analysis) -- the cheap stand-in for sentence embeddings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

HASH_FEATURES = 2**12  # few buckets: the SVD projection stored is dims x HASH_FEATURES


def texts_of(frame: pd.DataFrame) -> list[str]:
    """``title`` and ``body`` of each row as one text (``body`` may be missing)."""
    body = frame["body"] if "body" in frame else pd.Series([""] * len(frame), index=frame.index)
    return (frame["title"].fillna("").astype(str) + "\n" + body.fillna("").astype(str)).tolist()


def hashing() -> HashingVectorizer:
    return HashingVectorizer(n_features=HASH_FEATURES, alternate_sign=False, norm=None)


class TagPredictor:
    """``predict(frame)`` → ``[{"predicted_tags": [...]}, ...]``, one per row of ``title`` (and ``body``)."""

    def __init__(self, features: str, tags: list[str], coef: np.ndarray, intercept: np.ndarray,
                 threshold: float = 0.5, vocabulary: np.ndarray | None = None, idf: np.ndarray | None = None,
                 components: np.ndarray | None = None) -> None:
        self.features = features
        self.tags = np.asarray(tags, dtype=str)
        self.coef = coef
        self.intercept = intercept
        self.threshold = threshold
        self.vocabulary = vocabulary  # tfidf: the words in column order, and their idf weights
        self.idf = idf
        self.components = components  # lsa: the SVD projection of the hashed counts

    def transform(self, texts: list[str]) -> Any:
        if self.features == "tfidf":
            assert self.vocabulary is not None and self.idf is not None
            vectorizer = TfidfVectorizer(sublinear_tf=True, vocabulary=self.vocabulary.tolist())
            vectorizer.idf_ = self.idf
            return vectorizer.transform(texts)
        assert self.components is not None
        counts = hashing().transform(texts)
        counts.data = np.log1p(counts.data)
        return normalize(counts @ self.components.T)

    def scores(self, texts: list[str]) -> np.ndarray:
        """The probability of each tag, one row per text."""
        logits = self.transform(texts) @ self.coef.T + self.intercept
        return 1.0 / (1.0 + np.exp(-np.asarray(logits)))

    def predict(self, model_input: pd.DataFrame) -> list[dict[str, list[str]]]:
        chosen = self.scores(texts_of(model_input)) >= self.threshold
        return [{"predicted_tags": self.tags[row].tolist()} for row in chosen]
