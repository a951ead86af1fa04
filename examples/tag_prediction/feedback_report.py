"""How the served tagger is doing now: Jaccard, F1 and prediction rate from the request log and feedback.

``modelyard serve`` logs every answered request (inputs, outputs, which version answered)
and ``POST /feedback`` attaches a label to a request: here, the right tags, as the
Streamlit app sends them (``{"request_id": ..., "label": ["role::program", ...]}``; a
request of several rows takes a list of tag lists). This reads both back through the SDK
and scores the answers that have feedback. The prediction rate, the share of inputs that
got any tag, needs no feedback: it is over every logged input.

    python examples/tag_prediction/feedback_report.py                 # all versions of question-tagger
    python examples/tag_prediction/feedback_report.py --version 2 --json
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tag_metrics import tag_scores

import modelyard as my

PAGE = 1000


def records(client: my.Client, model_name: str, version: str | None) -> list[Any]:
    """Every logged request of the model (or of one version), newest first."""
    out: list[Any] = []
    while True:
        page = client.search_inference_requests(model_name, version, max_results=PAGE, offset=len(out))
        out.extend(page)
        if len(page) < PAGE:
            return out


def rows_of(record: Any) -> tuple[list[list[str]], list[list[str]] | None]:
    """The predicted tags of each input of a request, and the right ones if feedback gave them."""
    predicted = [list(p.get("predicted_tags", [])) for p in record.outputs or []]
    label = record.label
    if record.label_timestamp_ms is None or not isinstance(label, list):
        return predicted, None
    truth = label if label and all(isinstance(t, list) for t in label) else [label]
    return predicted, (truth if len(truth) == len(predicted) else None)


def report(client: my.Client, model_name: str, version: str | None = None) -> dict[str, Any]:
    predicted_all: list[list[str]] = []
    labelled_true: list[list[str]] = []
    labelled_pred: list[list[str]] = []
    for record in records(client, model_name, version):
        predicted, truth = rows_of(record)
        predicted_all.extend(predicted)
        if truth is not None:
            labelled_true.extend(truth)
            labelled_pred.extend(predicted)
    out: dict[str, Any] = {"inputs": len(predicted_all), "with_feedback": len(labelled_true)}
    if predicted_all:
        out["prediction_rate"] = sum(1 for p in predicted_all if p) / len(predicted_all)
    if labelled_true:
        scores = tag_scores(labelled_true, labelled_pred)
        out.update({k: scores[k] for k in ("jaccard", "f1_micro", "f1_macro")})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-name", default="question-tagger")
    parser.add_argument("--version", default=None, help="one version only (default: all)")
    parser.add_argument("--tracking-uri", default=None, help="default: MODELYARD_TRACKING_URI, else ./.modelyard/")
    parser.add_argument("--json", action="store_true", help="print the numbers as one JSON object")
    args = parser.parse_args()
    client = my.Client(args.tracking_uri)
    try:
        numbers = report(client, args.model_name, args.version)
    finally:
        client.close()
    if args.json:
        print(json.dumps(numbers))
        return
    print(f"{args.model_name}: {numbers['inputs']} inputs served, {numbers['with_feedback']} with feedback")
    for key in ("prediction_rate", "jaccard", "f1_micro", "f1_macro"):
        if key in numbers:
            print(f"  {key:16} {numbers[key]:.3f}")


if __name__ == "__main__":
    main()
