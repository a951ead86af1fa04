"""Instructions per call of the tracking app, under valgrind's callgrind: independent of the machine's load.

    python -m benchmarks.tracking.instructions [--calls 300] [--shape NAME ...]

Each shape runs in a process of its own under ``valgrind --tool=callgrind --instr-atstart=no``: the
whole ASGI app of :func:`modelyard.server.create_app` in process (every middleware, the hot path, the
service, the store; SQLite on ``/dev/shm`` with ``synchronous=OFF``, so neither uvicorn, the socket
nor the fsync is counted), driven by a loop of ASGI calls with the headers the client sends. After a
warm-up the process switches instrumentation on (``callgrind_control -i on``), makes ``--calls``
calls and switches it off: the printed figure is the user-space instructions of those calls divided
by their number. The figures reproduce to about 0.01% between runs of one checkout.

Shapes: ``raw_metric`` (httpx's headers and compact JSON, as the benchmark's raw POST),
``client_metric`` (what mlflow 3.17.2's ``MlflowClient.log_metric`` sends: its headers, ``run_uuid``
beside ``run_id``, ``json.dumps`` spacing), ``client_create`` (``MlflowClient.create_run``:
``user_id`` "unknown"), ``fluent_create`` (``mlflow.start_run``'s default tags: user, source name and
type, run name), ``client_batch`` (``log_batch`` of 10 params, 5 metrics, 3 tags, as the benchmark's
``runs`` workload: each call to a run of its own, created before).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import data

API = "/api/2.0/mlflow"
RAW_HEADERS = [(b"host", b"127.0.0.1:5000"), (b"accept", b"*/*"), (b"accept-encoding", b"gzip, deflate"),
               (b"connection", b"keep-alive"), (b"user-agent", b"python-httpx/0.28.1"),
               (b"content-type", b"application/json")]
CLIENT_HEADERS = [(b"host", b"127.0.0.1:5000"), (b"user-agent", b"mlflow-python-client/3.17.2"),
                  (b"accept-encoding", b"gzip, deflate"), (b"accept", b"*/*"), (b"connection", b"keep-alive"),
                  (b"x-mlflow-client-version", b"3.17.2"), (b"content-type", b"application/json")]
SEED = data.run_seeds(1)[0]
FRESH_RUNS = {"client_batch"}  # shapes whose every call goes to a run of its own, as in the benchmark

# name -> (path, headers, body of call i given the run id and experiment id)
SHAPES: dict[str, tuple[str, list[tuple[bytes, bytes]], Callable[[int, str, str], bytes]]] = {
    "raw_metric": ("/runs/log-metric", RAW_HEADERS, lambda i, run, exp: json.dumps(
        {"run_id": run, "key": "loss", "value": 1.0 / (i + 1), "timestamp": data.T0 + i, "step": i},
        separators=(",", ":")).encode()),
    "client_metric": ("/runs/log-metric", CLIENT_HEADERS, lambda i, run, exp: json.dumps(
        {"run_uuid": run, "key": "loss", "value": 1.0 / (i + 1), "timestamp": data.T0 + i, "step": i,
         "run_id": run}).encode()),
    "client_create": ("/runs/create", CLIENT_HEADERS, lambda i, run, exp: json.dumps(
        {"experiment_id": exp, "user_id": "unknown", "start_time": data.T0 + i}).encode()),
    "fluent_create": ("/runs/create", CLIENT_HEADERS, lambda i, run, exp: json.dumps(
        {"experiment_id": exp, "user_id": "bench", "start_time": data.T0 + i, "run_name": f"run-{i}", "tags": [
            {"key": "mlflow.user", "value": "bench"}, {"key": "mlflow.source.name", "value": "train.py"},
            {"key": "mlflow.source.type", "value": "LOCAL"}, {"key": "mlflow.runName", "value": f"run-{i}"}]}
    ).encode()),
    "client_batch": ("/runs/log-batch", CLIENT_HEADERS, lambda i, run, exp: json.dumps(
        {"run_id": run, "metrics": [{"key": k, "value": v, "timestamp": data.T0 + i, "step": 0} for k, v in SEED.metrics],
         "params": [{"key": k, "value": v} for k, v in SEED.params],
         "tags": [{"key": k, "value": v} for k, v in SEED.tags]}).encode()),
}


async def _call(app: Any, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, bytes]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": API + path, "raw_path": (API + path).encode(), "query_string": b"", "root_path": "",
             "headers": [*headers, (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 5000)}
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    out: list[Any] = []

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        out.append(message)

    await app(scope, receive, send)
    return int(out[0]["status"]), b"".join(m.get("body", b"") for m in out[1:])


def probe(shape: str, calls: int, warm: int = 50) -> None:
    """Run ``shape`` ``calls`` times with callgrind's instrumentation on (in this process, under valgrind)."""
    from modelyard.server import create_app, hotpath
    from modelyard.settings import Settings

    # Under valgrind a call takes some 50 times as long: without this the hot path would find its calls
    # slow and send them through the writer's thread, which a real server does only on a slow disk.
    hotpath.INLINE_SLOW_SECONDS = float("inf")

    path, headers, body = SHAPES[shape]
    folder = Path(tempfile.mkdtemp(prefix="instr-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    os.environ["MODELYARD_SQLITE_SYNCHRONOUS"] = "OFF"
    settings = Settings(backend_store_uri=f"sqlite:///{folder / 'db.sqlite'}",
                        artifacts_destination=str(folder / "artifacts"), background_workers=False)
    app = create_app(settings)

    async def go() -> None:
        status, answer = await _call(app, "/experiments/create", RAW_HEADERS, b'{"name":"instr"}')
        exp = json.loads(answer)["experiment_id"]
        status, answer = await _call(app, "/runs/create", RAW_HEADERS, json.dumps({"experiment_id": exp}).encode())
        run = json.loads(answer)["run"]["info"]["run_id"]
        runs = [app.state.service.runs.create(exp).info.run_id for _ in range(warm + calls)] \
            if shape in FRESH_RUNS else [run] * (warm + calls)
        bodies = [body(i, runs[i], exp) for i in range(warm + calls)]
        for i in range(warm):
            status, answer = await _call(app, path, headers, bodies[i])
            assert status == 200, answer
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True)
        statuses = [(await _call(app, path, headers, bodies[i]))[0] for i in range(warm, warm + calls)]
        subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], check=True, capture_output=True)
        assert statuses == [200] * calls, statuses

    try:
        asyncio.run(go())
    finally:
        app.hot.close()
        app.state.service.close()
        shutil.rmtree(folder, ignore_errors=True)


def count(shape: str, calls: int, out: Path) -> float:
    """Instructions per call of ``shape``, from a run under callgrind writing ``out``."""
    argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
            sys.executable, "-m", "benchmarks.tracking.instructions", "--probe", shape, "--calls", str(calls)]
    subprocess.run(argv, check=True, capture_output=True)
    totals = re.search(rb"^totals: (\d+)", out.read_bytes(), re.M)  # what ran instrumented ("summary": 0)
    if totals is None:
        raise RuntimeError(f"no totals in {out}")
    return int(totals.group(1)) / calls


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--shape", action="append", choices=sorted(SHAPES), help="default: every shape")
    parser.add_argument("--probe", choices=sorted(SHAPES), help=argparse.SUPPRESS)  # the process under valgrind
    parser.add_argument("--keep", help="keep the callgrind files in this folder (callgrind_annotate them)")
    args = parser.parse_args(argv)
    if args.probe:
        probe(args.probe, args.calls)
        return
    folder = Path(args.keep or tempfile.mkdtemp(prefix="instructions-"))
    folder.mkdir(parents=True, exist_ok=True)
    print("| shape | instructions per call |\n|---|---:|")
    for shape in args.shape or list(SHAPES):
        print(f"| {shape} | {count(shape, args.calls, folder / f'callgrind.{shape}'):,.0f} |", flush=True)


if __name__ == "__main__":
    main()
