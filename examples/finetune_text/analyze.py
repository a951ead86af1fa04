"""Pick the sweep's best run by a metric, register its fine-tuned model and make it the champion.

After ``train.py``: the latest ``lr-sweep`` run's nested runs are searched with
``my.search_runs`` ordered by ``eval_accuracy`` (then ``eval_loss``); the winner's model,
saved by the Trainer in the folder its ``output_dir`` param names, is logged to that run
with ``my.models.log_model`` (the Transformers flavor: safetensors weights, tokenizer and
label names, no pickle), registered, and given the alias ``champion``.

Run it:    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python examples/finetune_text/analyze.py
Then serve: modelyard serve models:/rotten-tomatoes-minilm@champion
"""

from __future__ import annotations

import argparse

from transformers import AutoModelForSequenceClassification, AutoTokenizer

import modelyard as my

EXPERIMENT = "rotten-tomatoes-finetune"
MODEL_NAME = "rotten-tomatoes-minilm"
EXAMPLES = ["A gripping, beautifully acted film.", "Two hours I will never get back."]


def latest_sweep(experiment_id: str) -> my.Run:
    [sweep] = my.search_runs(experiment_ids=[experiment_id], filter_string="tags.mlflow.runName = 'lr-sweep'",
                             order_by=["attributes.start_time DESC"], max_results=1, output_format="list")
    return sweep


def best_run(experiment_id: str, parent_id: str, metric: str) -> my.Run:
    """The sweep's nested run with the highest ``metric`` (then the lowest eval loss)."""
    ranked = my.search_runs(
        experiment_ids=[experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_id}' and attributes.status = 'FINISHED'",
        order_by=[f"metrics.{metric} DESC", "metrics.eval_loss ASC"],
        output_format="list",
    )
    if not ranked:
        raise SystemExit(f"The sweep {parent_id} has no finished runs: run train.py first.")
    return ranked[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metric", default="eval_accuracy", help="what 'best' means (higher is better)")
    args = parser.parse_args()

    experiment = my.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        raise SystemExit(f"No experiment {EXPERIMENT!r} here: run train.py first (same MLFLOW_TRACKING_URI).")
    sweep = latest_sweep(experiment.experiment_id)
    best = best_run(experiment.experiment_id, sweep.info.run_id, args.metric)
    score = best.data.metrics[args.metric]
    print(f"best run {best.info.run_name} ({best.info.run_id}): {args.metric} {score:.4f}")

    folder = best.data.params["output_dir"]  # where the Trainer saved this run's model
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    info = my.models.log_model({"model": model, "tokenizer": tokenizer}, "model", run_id=best.info.run_id,
                               input_example=EXAMPLES, registered_model_name=MODEL_NAME)
    client = my.Client()
    client.update_model_version(MODEL_NAME, str(info.registered_model_version),
                                description=f"{best.info.run_name}: {args.metric} {score:.4f}")
    client.set_registered_model_alias(MODEL_NAME, "champion", str(info.registered_model_version))
    print(f"registered {MODEL_NAME} version {info.registered_model_version}, alias champion\n")
    print(f"modelyard serve models:/{MODEL_NAME}@champion")


if __name__ == "__main__":
    main()
