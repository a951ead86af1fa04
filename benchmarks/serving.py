"""Serving benchmark: `mlflow models serve` vs `modelyard serve` vs a bare Starlette handler.

    python -m benchmarks.serving                      # 10 s per point, concurrency 1, 8, 16
    python -m benchmarks.serving --duration 5 --only modelyard,bare

The same model (breast cancer, StandardScaler + LogisticRegression, saved once by
modelyard with its signature and input example) is served by each server in
turn on 127.0.0.1, one uvicorn worker each, and hit with single-row JSON
requests (`{"inputs": [[30 floats]]}`) by `wrk` (one thread) at each concurrency.
modelyard runs with validation, metrics, micro-batching and the request log on
(into an embedded store). MLflow runs from benchmarks/.venvs/mlflow with
`--env-manager local`. Server CPU per request is read from /proc.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

if not __package__:  # `python benchmarks/serving.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.tracking.cpu import tree_cpu  # noqa: E402
from benchmarks.tracking.servers import VENVS, free_port, stop  # noqa: E402

BARE_APP = '''
import numpy as np
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from modelyard.models import load_model

clf = load_model({model_dir!r}).unwrap_python_model()

async def invocations(request):
    data = await request.json()
    return JSONResponse({{"predictions": clf.predict(np.asarray(data["inputs"], dtype=float)).tolist()}})

async def ping(request):
    return JSONResponse({{}})

app = Starlette(routes=[Route("/invocations", invocations, methods=["POST"]), Route("/ping", ping)])
'''


def build_model(workdir: Path) -> tuple[Path, list[float], list[int]]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import modelyard as my

    X, y = load_breast_cancer(return_X_y=True)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    model_dir = workdir / "model"
    my.models.save_model(clf, str(model_dir), input_example=X[:2])
    return model_dir, X[0].tolist(), clf.predict(X[:1]).tolist()


def commands(name: str, model_dir: Path, workdir: Path, port: int) -> tuple[list[str], dict[str, str]]:
    if name == "mlflow":
        mlflow = VENVS / "mlflow" / "bin" / "mlflow"
        if not mlflow.exists():
            raise FileNotFoundError(f"{mlflow} is missing: create it with python -m benchmarks.tracking --only mlflow")
        return ([str(mlflow), "models", "serve", "-m", str(model_dir), "--env-manager", "local",
                 "-h", "127.0.0.1", "-p", str(port)],
                {"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true", "MLFLOW_DISABLE_TELEMETRY": "true",
                 "DO_NOT_TRACK": "true", "PATH": f"{mlflow.parent}:{os.environ['PATH']}"})
    if name == "modelyard":
        return ([sys.executable, "-m", "modelyard.cli", "serve", str(model_dir), "--host", "127.0.0.1",
                 "--port", str(port), "--tracking-uri", str(workdir / "store")], {})
    (workdir / "bare.py").write_text(BARE_APP.format(model_dir=str(model_dir)))
    return ([sys.executable, "-m", "uvicorn", "bare:app", "--host", "127.0.0.1", "--port", str(port),
             "--no-access-log", "--log-level", "warning"], {"PYTHONPATH": str(workdir)})


@contextlib.contextmanager
def launch(name: str, model_dir: Path, workdir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    argv, env = commands(name, model_dir, workdir, port)
    print(f"  $ {' '.join(argv)}", flush=True)
    log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(argv, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{(workdir / f'{name}.log').read_text()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/ping", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        yield url, proc
    finally:
        stop(proc)
        log.close()


def wrk(url: str, body: str, connections: int, duration: float, workdir: Path) -> dict[str, float]:
    script = workdir / "post.lua"
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f"wrk.body = {json.dumps(body)}\n")
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, int(duration))}s", "--latency", "-s", str(script),
                          url + "/invocations"], capture_output=True, text=True, timeout=duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors += sum(int(g) for g in sock.groups()) if sock else 0

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    return {"rps": rps, "p50_ms": pct("50"), "p99_ms": pct("99"), "requests": total, "errors": errors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="Seconds per point (default 10).")
    parser.add_argument("--connections", default="1,8,16", help="Concurrency levels (default 1,8,16).")
    parser.add_argument("--only", default="mlflow,modelyard,bare", help="Servers to run.")
    parser.add_argument("--json", default=None, help="Also write the results to this file.")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    levels = [int(c) for c in args.connections.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="modelyard-bench-serving-"))
    results: dict[str, dict[int, dict[str, float]]] = {}
    try:
        model_dir, row, want = build_model(workdir)
        body = json.dumps({"inputs": [row]})
        for name in args.only.split(","):
            print(f"{name}:", flush=True)
            try:
                with launch(name, model_dir, workdir) as (url, proc):
                    got = httpx.post(url + "/invocations", content=body,
                                     headers={"Content-Type": "application/json"}, timeout=30).json()
                    assert got["predictions"] == want, got
                    wrk(url, body, 8, 2.0, workdir)  # warm-up
                    results[name] = {}
                    for c in levels:
                        cpu0 = tree_cpu(proc.pid)
                        point = wrk(url, body, c, args.duration, workdir)
                        point["cpu_ms_per_req"] = (tree_cpu(proc.pid) - cpu0) * 1000 / max(point["requests"], 1)
                        results[name][c] = point
                        print(f"  c={c:<3} {point['rps']:9.0f} req/s  p50 {point['p50_ms']:7.2f} ms  "
                              f"p99 {point['p99_ms']:7.2f} ms  cpu {point['cpu_ms_per_req']:.3f} ms/req  "
                              f"errors {point['errors']}", flush=True)
            except (FileNotFoundError, RuntimeError) as exc:
                print(f"  skipped: {exc}", flush=True)
        report(results, levels)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def report(results: dict[str, dict[int, dict[str, float]]], levels: list[int]) -> None:
    print("\n| server | " + " | ".join(f"c={c} req/s (p50/p99 ms)" for c in levels) + " |")
    print("|---|" + "---|" * len(levels))
    for name, points in results.items():
        cells = [f"{p['rps']:.0f} ({p['p50_ms']:.2f}/{p['p99_ms']:.2f})" for p in (points[c] for c in levels)]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if "modelyard" in results:
        my = results["modelyard"]
        for peer, label in (("mlflow", "modelyard / mlflow"), ("bare", "modelyard / bare")):
            if peer in results:
                ratios = [my[c]["rps"] / results[peer][c]["rps"] for c in levels]
                print(f"| {label} (throughput) | " + " | ".join(f"{r:.2f}×" for r in ratios) + " |")


if __name__ == "__main__":
    sys.exit(main())
