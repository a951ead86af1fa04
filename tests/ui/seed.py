"""A small, deterministic store for the UI tests: experiments, nested runs, artifacts, a registry."""

from __future__ import annotations

import io
import json
import struct
import time
import zlib
from dataclasses import dataclass, field

from modelyard.entities import Dataset, DatasetInput, InputTag, Metric, RunTag
from modelyard.service import TrackingService
from modelyard.settings import Settings

XSS_NAME = "<script>alert('x')</script>"


def tiny_png(width: int = 24, height: int = 16) -> bytes:
    """A real PNG (a colour gradient) without any imaging library."""
    raw = b"".join(b"\x00" + bytes(c for x in range(width) for c in (x * 10 % 256, y * 15 % 256, 180))
                   for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


MLMODEL = """artifact_path: model
flavors:
  python_function:
    loader_module: modelyard.models.flavors.sklearn
  sklearn:
    sklearn_version: 1.5.0
signature:
  inputs: '[{"type": "double", "name": "tenure", "required": true}, {"type": "string", "name": "plan", "required": true}]'
  outputs: '[{"type": "long", "name": "churned", "required": true}]'
utc_time_created: '2025-01-01 00:00:00.000000'
"""

ARTIFACTS = {
    "notes.txt": b"hello from the run notes\nsecond line\n",
    "config.json": json.dumps({"lr": 0.1, "layers": [64, 32]}).encode(),
    "params.yaml": b"lr: 0.1\nmodel: tree\n",
    "data/predictions.csv": b"id,label,score\n1,yes,0.91\n2,no,0.12\n3,yes,0.77\n",
    "plots/curve.png": tiny_png(),
    "report.html": b"<html><body><h1>Report</h1><script>document.title='pwned'</script></body></html>",
    "model/MLmodel": MLMODEL.encode(),
    "model/requirements.txt": b"scikit-learn==1.5.0\nnumpy\n",
}


@dataclass
class Seeded:
    experiment_id: str
    other_experiment_id: str
    runs: dict[str, str] = field(default_factory=dict)  # name -> run id
    model: str = "churn-model"


def settings_for(db_uri: str, artifacts: str) -> Settings:
    return Settings(backend_store_uri=db_uri, artifacts_destination=artifacts, serve_artifacts=True,
                    background_workers=False)


def seed(svc: TrackingService) -> Seeded:
    exp = svc.experiments.create("churn")
    other = svc.experiments.create("scratch")
    out = Seeded(exp, other)
    now = int(time.time() * 1000) - 3_600_000
    specs = [("tree-a", "tree", "0.1", 0.50), ("linear-b", "linear", "0.01", 0.80), ("forest-c", "forest", "0.05", 0.30)]
    for i, (name, model, lr, rmse) in enumerate(specs):
        run = svc.runs.create(exp, start_time=now + i * 60_000, run_name=name, user_id="ana",
                              tags={"mlflow.source.name": "train.py", "mlflow.source.git.commit": "abc123def",
                                    "team": "growth"})
        rid = run.info.run_id
        out.runs[name] = rid
        metrics = [Metric("rmse", rmse + 1.0 / (s + 1), now + s, s) for s in range(50)]
        metrics += [Metric("accuracy", 1 - rmse / 2, now, 0), Metric("system/cpu_percent", 20.0 + i, now, 0)]
        svc.runs.log_batch(rid, metrics=metrics, params=[], tags=[])
        for key, value in (("model", model), ("lr", lr), ("depth", str(3 + i))):
            from modelyard.entities import Param
            svc.runs.log_param(rid, Param(key, value))
        svc.runs.log_inputs(rid, [DatasetInput(
            Dataset("customers", f"d1g35t{i}", "local", "/data/customers.parquet",
                    schema=json.dumps({"mlflow_colspec": [{"name": "tenure", "type": "double"}]}),
                    profile=json.dumps({"num_rows": 1000 + i})),
            [InputTag("mlflow.data.context", "training")])])
        svc.runs.update(rid, status="FINISHED", end_time=now + i * 60_000 + 42_000)
    child = svc.runs.create(exp, start_time=now + 500_000, run_name="tree-a-fold1",
                            tags={"mlflow.parentRunId": out.runs["tree-a"]})
    svc.runs.log_batch(child.info.run_id, metrics=[Metric("rmse", 0.45, now, 0)])
    svc.runs.update(child.info.run_id, status="FINISHED", end_time=now + 510_000)
    out.runs["tree-a-fold1"] = child.info.run_id
    live = svc.runs.create(exp, start_time=now + 600_000, run_name="live-run")
    svc.runs.log_batch(live.info.run_id, metrics=[Metric("loss", 1.0, now, 0)])
    out.runs["live-run"] = live.info.run_id
    xss = svc.runs.create(exp, start_time=now - 1000, run_name=XSS_NAME, tags={"note": "<b>bold</b>"})
    svc.runs.update(xss.info.run_id, status="FAILED", end_time=now)
    out.runs["xss"] = xss.info.run_id

    run_a = svc.runs.get(out.runs["tree-a"])
    repo = svc.artifacts.repository(run_a.info.artifact_uri)
    for path, data in ARTIFACTS.items():
        repo.put(path, io.BytesIO(data))
    svc.runs.set_tag(out.runs["tree-a"], RunTag("mlflow.note.content", "First *baseline*."))

    svc.registry.create_registered_model(out.model, description="Predicts churn.", tags={"team": "growth"})
    for name in ("tree-a", "forest-c"):
        svc.registry.create_model_version(out.model, f"runs:/{out.runs[name]}/model", run_id=out.runs[name])
    svc.registry.set_registered_model_alias(out.model, "champion", 1)
    return out
