"""Load and score one model in a child process: its size, load time, latency and predictions.

The promotion gates never load a candidate in the server's own process: a model runs code as it
loads and predicts. :func:`score_in_worker` starts ``python -m modelyard.promotion.worker``, sends
it a JSON job on stdin and reads a JSON answer from stdout, with a timeout. The worker loads the
model under the serving trust policy (:func:`~modelyard.models.trust.serving_policy`: pickles are
refused unless ``MODELYARD_SERVE_ALLOW_PICKLE``; skops types as configured), so a model a serve
process would refuse fails its gates too.

Job: ``{"model_dirs": [...], "data": CSV/Parquet path or null (each model's input example), "drop":
[target column], "rows", "repeats", "predict": bool}``. Answer: ``{"results": [{"size_bytes",
"load_ms", "rows", "latency_ms": {"p50", "p95", "max"}, "predictions": [...] | null}, ...]}`` (one per
model, in order) or ``{"error": message}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from ..errors import InvalidState

__all__ = ["score_in_worker"]


def score_in_worker(job: dict[str, Any], timeout_s: float) -> list[dict[str, Any]]:
    """Run ``job`` in a fresh Python process (one per job, however many models); each model's measures.
    InvalidState when it fails or overruns."""
    try:
        # One thread per model, as a serve worker predicts one micro-batch at a time: OpenMP's default
        # (a thread per core) only measures how busy the machine is.
        env = {"OMP_NUM_THREADS": "1", **os.environ}
        done = subprocess.run([sys.executable, "-m", "modelyard.promotion.worker"], input=json.dumps(job),
                              capture_output=True, text=True, timeout=timeout_s, check=False, env=env)
    except subprocess.TimeoutExpired:
        raise InvalidState(f"scoring the model took more than {timeout_s:g} s (the gate's timeout_s)") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = done.stderr.strip().splitlines()[-3:]
        raise InvalidState(f"the scoring worker exited with {done.returncode}: {' '.join(tail) or 'no output'}")
    answer: dict[str, Any] = json.loads(lines[-1])
    if "error" in answer:
        raise InvalidState(str(answer["error"]))
    return list(answer["results"])


def _size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def _run(job: dict[str, Any], model_dir: str) -> dict[str, Any]:
    import numpy as np

    from ..models import load_model
    from ..models.trust import serving_policy

    t0 = time.perf_counter()
    model = load_model(model_dir, trust=serving_policy())
    load_ms = (time.perf_counter() - t0) * 1000
    if job.get("data"):
        from ..monitoring.frames import read_table

        frame = read_table(job["data"])
        frame = frame.drop(columns=[c for c in job.get("drop") or [] if c in frame.columns])
    else:
        frame = model.input_example
        if frame is None:
            raise ValueError("the model has no input example to score and the gate names no dataset")
    predictions = None
    if job.get("predict"):
        predictions = np.asarray(model.predict(frame)).reshape(len(frame), -1)[:, 0].tolist()
    rows = int(job.get("rows") or 100)
    batch = frame.iloc[:rows] if hasattr(frame, "iloc") else frame[:rows]
    model.predict(batch)  # warm up
    times = []
    for _ in range(int(job.get("repeats") or 5)):
        t = time.perf_counter()
        model.predict(batch)
        times.append((time.perf_counter() - t) * 1000)
    return {"size_bytes": _size(model_dir), "load_ms": load_ms, "rows": len(batch),
            "latency_ms": {"p50": float(np.percentile(times, 50)), "p95": float(np.percentile(times, 95)),
                           "max": float(max(times))},
            "predictions": predictions}


def main() -> None:
    job = json.loads(sys.stdin.read())
    answer: dict[str, Any]
    try:
        answer = {"results": [_run(job, d) for d in job["model_dirs"]]}
    except Exception as exc:  # noqa: BLE001 - every failure is the gate's evidence
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write("\n" + json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
