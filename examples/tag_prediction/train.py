"""Multi-label tag prediction: TF-IDF and an embedding variant, tracked, the best registered for serving.

1. the data: the committed debtags slice (package name + description → its tags), or the
   questions of a Stack Overflow dump with ``--stackoverflow PATH`` (Posts.xml);
2. two runs, each one-vs-rest logistic regression on other features: word TF-IDF, and a
   dense 128-d embedding (hashed counts + truncated SVD); Jaccard index, micro and macro F1
   and the prediction rate on a held-out quarter logged as metrics;
3. the run with the better Jaccard index registered as ``question-tagger`` with the alias
   ``champion``; its model is :class:`tagger.TagPredictor`, saved as class + arrays (no pickle).

Run it:     python examples/tag_prediction/train.py            (``--small`` for CI)
Then serve: PYTHONPATH=examples/tag_prediction modelyard serve models:/question-tagger@champion
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer, normalize
from tag_metrics import tag_scores
from tagger import TagPredictor, hashing, texts_of
from tagsets import keep_top_tags, load_debtags, load_stackoverflow

import modelyard as my

EXPERIMENT = "tag-prediction"
MODEL_NAME = "question-tagger"
SMALL_ROWS = 800
# What a request carries (the body may be left out); the answer, a list of tags per row, has no column type.
SIGNATURE = my.models.ModelSignature(my.models.Schema([my.models.ColSpec("string", "title"),
                                                       my.models.ColSpec("string", "body", required=False)]))


def features(kind: str, texts: list[str], dims: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Fit the features of ``kind`` on ``texts``: the training matrix and the arrays that rebuild it."""
    if kind == "tfidf":
        vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2)
        x = vectorizer.fit_transform(texts)
        vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
        return x, {"vocabulary": np.asarray(vocabulary, dtype=str), "idf": vectorizer.idf_}
    counts = hashing().transform(texts)
    counts.data = np.log1p(counts.data)
    svd = TruncatedSVD(n_components=dims, random_state=0).fit(counts)
    components = svd.components_.astype(np.float32)
    return normalize(counts @ components.T), {"components": components}


def train(kind: str, train_set: pd.DataFrame, c: float, threshold: float, dims: int) -> TagPredictor:
    x, arrays = features(kind, texts_of(train_set), dims)
    binarizer = MultiLabelBinarizer()
    y = binarizer.fit_transform(train_set["tags"])
    everywhere = binarizer.classes_[y.min(axis=0) == 1]
    if len(everywhere):
        raise SystemExit(f"Tags {list(everywhere)} are on every training question: nothing to learn for them.")
    ovr = OneVsRestClassifier(LogisticRegression(C=c, max_iter=1000, class_weight="balanced")).fit(x, y)
    coef = np.vstack([e.coef_ for e in ovr.estimators_])
    intercept = np.concatenate([e.intercept_ for e in ovr.estimators_])
    return TagPredictor(kind, list(binarizer.classes_), coef, intercept, threshold, **arrays)


def run_variant(kind: str, train_set: pd.DataFrame, test_set: pd.DataFrame, source: str,
                args: argparse.Namespace) -> tuple[str, dict[str, float]]:
    """Train, score and log one variant as a run; its run id and metrics."""
    params = {"features": kind, "C": args.C, "threshold": args.threshold, "top_tags": args.top_tags}
    if kind == "lsa":
        params["dims"] = args.dims
    with my.start_run(run_name=f"{kind}-logreg") as run:
        my.set_tags({"data": source, "mlflow.note.content": f"{kind} features, one-vs-rest logistic regression"})
        my.log_params({**params, "train_rows": len(train_set), "test_rows": len(test_set)})
        model = train(kind, train_set, args.C, args.threshold, args.dims)
        predicted = [p["predicted_tags"] for p in model.predict(test_set)]
        metrics = tag_scores(test_set["tags"].tolist(), predicted)
        my.log_metrics(metrics)
        my.models.log_model(model, "model", signature=SIGNATURE, input_example=test_set[["title", "body"]].head(2))
        print(f"{kind}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
    return run.info.run_id, metrics


def load(args: argparse.Namespace) -> tuple[pd.DataFrame, str]:
    if args.stackoverflow:
        frame, source = load_stackoverflow(args.stackoverflow, limit=args.limit), "stackoverflow"
    else:
        frame, source = load_debtags(), "debtags"
    frame = keep_top_tags(frame, args.top_tags)
    if args.small:
        frame = frame.head(SMALL_ROWS)
    if len(frame) < 20:
        raise SystemExit(f"Only {len(frame)} tagged questions: too few to train and test on.")
    return frame, source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stackoverflow", metavar="PATH", help="a Stack Overflow dump's Posts.xml (or its folder)")
    parser.add_argument("--limit", type=int, default=50_000, help="questions read from Posts.xml at most")
    parser.add_argument("--top-tags", type=int, default=30, help="predict the N most frequent tags")
    parser.add_argument("--small", action="store_true", help=f"the first {SMALL_ROWS} rows only (what CI runs)")
    parser.add_argument("--C", type=float, default=4.0, help="inverse regularisation of the regressions")
    parser.add_argument("--threshold", type=float, default=0.5, help="a tag is predicted at this probability")
    parser.add_argument("--dims", type=int, default=128, help="embedding size of the lsa variant")
    parser.add_argument("--tracking-uri", default=None, help="default: MODELYARD_TRACKING_URI, else ./.modelyard/")
    args = parser.parse_args()
    if args.tracking_uri:
        my.set_tracking_uri(args.tracking_uri)
    my.set_experiment(EXPERIMENT)

    frame, source = load(args)
    train_set, test_set = train_test_split(frame, test_size=0.25, random_state=0)
    results = {kind: run_variant(kind, train_set, test_set, source, args) for kind in ("tfidf", "lsa")}
    best = max(results, key=lambda kind: results[kind][1]["jaccard"])
    run_id, metrics = results[best]
    version = str(my.models.register_model(f"runs:/{run_id}/model", MODEL_NAME).version)
    client = my.Client()
    client.update_model_version(MODEL_NAME, version,
                                description=f"{best} features, Jaccard {metrics['jaccard']:.3f} on {source}")
    client.set_registered_model_alias(MODEL_NAME, "champion", version)
    print(f"best run {best}-logreg: jaccard {metrics['jaccard']:.3f}")
    print(f"registered {MODEL_NAME} version {version}, alias champion\n")
    print(f"PYTHONPATH=examples/tag_prediction modelyard serve models:/{MODEL_NAME}@champion")


if __name__ == "__main__":
    main()
