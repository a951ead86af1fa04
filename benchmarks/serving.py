"""Serving benchmark: `mlflow models serve` vs `modelyard serve` vs a bare Starlette handler.

    python -m benchmarks.serving                      # 3 rounds x 4 s per point, concurrency 1, 8, 16
    python -m benchmarks.serving --duration 2 --rounds 2 --only modelyard,bare
    python -m benchmarks.serving --only modelyard,modelyard-nobatch,bare   # what micro-batching does

The same model (breast cancer, StandardScaler + LogisticRegression, saved once by
modelyard with its signature and input example) is served by each server on
127.0.0.1, one uvicorn worker each, and hit with the same single-row JSON request
(`{"inputs": [[30 floats]]}`) by the same client, `wrk` (one thread), at each
concurrency. All servers are started first and stay up; at each concurrency the
servers take turns, `--rounds` times `--duration` seconds each, so a change in the
machine's load (it is shared) hits every server alike. Requests/s is all requests
over all rounds' time; p50 is the median of the rounds' p50s, p99 the worst
round's. modelyard runs with validation, metrics, micro-batching and the request
log on (into an embedded SQLite store); `modelyard-nobatch` is the same with
`--max-batch-size 1`. MLflow 3.17.2 runs from benchmarks/.venvs/mlflow (created on
first use, shared with benchmarks.tracking) with `--env-manager local`.

Server CPU per request is read from /proc (the server's process tree). The load
generator's own CPU is read too: `wrk cpu` near 100% of one core means the
client, not the server, set the pace for that point, and the table says so.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import statistics
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
from benchmarks.tracking.servers import (  # noqa: E402
    MLFLOW_REQUIREMENTS,
    Unavailable,
    ensure_venv,
    free_port,
    stop,
)

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


SERVERS = ("mlflow", "modelyard", "modelyard-nobatch", "bare")


def commands(name: str, model_dir: Path, workdir: Path, port: int) -> tuple[list[str], dict[str, str]]:
    if name == "mlflow":
        mlflow = ensure_venv("mlflow", MLFLOW_REQUIREMENTS) / "bin" / "mlflow"
        return ([str(mlflow), "models", "serve", "-m", str(model_dir), "--env-manager", "local",
                 "-h", "127.0.0.1", "-p", str(port)],
                {"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true", "MLFLOW_DISABLE_TELEMETRY": "true",
                 "DO_NOT_TRACK": "true", "PATH": f"{mlflow.parent}:{os.environ['PATH']}"})
    if name.startswith("modelyard"):
        extra = ["--max-batch-size", "1"] if name == "modelyard-nobatch" else []
        return ([sys.executable, "-m", "modelyard.cli", "serve", str(model_dir), "--host", "127.0.0.1",
                 "--port", str(port), "--tracking-uri", str(workdir / f"store-{name}"), *extra], {})
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


def wrk(url: str, connections: int, duration: float, workdir: Path) -> dict[str, float]:
    """One wrk run against ``url``/invocations with the body in ``workdir``/post.lua."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, int(duration))}s", "--latency",
                          "-s", str(workdir / "post.lua"), url + "/invocations"],
                         check=False, capture_output=True, text=True, timeout=duration + 60).stdout
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in ([\d.]+)(ms|s)", out).group(1))  # type: ignore[union-attr]
    errors = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors += sum(int(g) for g in sock.groups()) if sock else 0

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    client = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"rps": rps, "p50_ms": pct("50"), "p99_ms": pct("99"), "requests": total, "errors": errors,
            "seconds": total / rps if rps else wall, "client_cpu_share": client / wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=4.0, help="Seconds per wrk run (default 4).")
    parser.add_argument("--rounds", type=int, default=3, help="Turns each server takes per concurrency (default 3).")
    parser.add_argument("--connections", default="1,8,16", help="Concurrency levels (default 1,8,16).")
    parser.add_argument("--only", default="mlflow,modelyard,bare", help=f"Servers to run, of {','.join(SERVERS)}.")
    parser.add_argument("--json", default=None, help="Also write the results to this file.")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    names = args.only.split(",")
    unknown = [n for n in names if n not in SERVERS]
    if unknown:
        parser.error(f"unknown servers {unknown}; choose from {list(SERVERS)}")
    levels = [int(c) for c in args.connections.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="modelyard-bench-serving-"))
    points: dict[str, dict[int, list[dict[str, float]]]] = {}
    cpu: dict[str, dict[int, float]] = {}
    print(f"load average at start: {os.getloadavg()}", flush=True)
    try:
        model_dir, row, want = build_model(workdir)
        body = json.dumps({"inputs": [row]})
        (workdir / "post.lua").write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                                          f"wrk.body = {json.dumps(body)}\n")
        with contextlib.ExitStack() as stack:
            servers: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}
            for name in names:
                try:
                    url, proc = stack.enter_context(launch(name, model_dir, workdir))
                except (Unavailable, RuntimeError) as exc:
                    print(f"  {name} skipped: {exc}", flush=True)
                    continue
                got = httpx.post(url + "/invocations", content=body,
                                 headers={"Content-Type": "application/json"}, timeout=30).json()
                assert got["predictions"] == want, (name, got)
                wrk(url, 8, 2.0, workdir)  # warm-up
                servers[name] = (url, proc)
                points[name], cpu[name] = {c: [] for c in levels}, {c: 0.0 for c in levels}
            for c in levels:
                for _ in range(args.rounds):
                    for name, (url, proc) in servers.items():
                        cpu0 = tree_cpu(proc.pid)
                        point = wrk(url, c, args.duration, workdir)
                        cpu[name][c] += tree_cpu(proc.pid) - cpu0
                        points[name][c].append(point)
                for name in servers:
                    p = summarize(points[name][c], cpu[name][c])
                    per_round = " ".join(f"{q['rps']:.0f}" for q in points[name][c])
                    print(f"  {name:<18} c={c:<3} {p['rps']:7.0f} req/s  p50 {p['p50_ms']:6.2f} ms  "
                          f"p99 {p['p99_ms']:7.2f} ms  server cpu {p['cpu_ms_per_req']:.3f} ms/req  "
                          f"wrk cpu {p['client_cpu_share']:.0%}  errors {p['errors']:.0f}  "
                          f"rounds {per_round}", flush=True)
        results = {name: {c: summarize(points[name][c], cpu[name][c]) for c in levels} for name in points}
        print(f"load average at end: {os.getloadavg()}", flush=True)
        report(results, levels)
        if args.json:
            Path(args.json).write_text(json.dumps({"results": results, "rounds": points}, indent=2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def summarize(rounds: list[dict[str, float]], server_cpu: float) -> dict[str, float]:
    requests = sum(r["requests"] for r in rounds)
    seconds = sum(r["seconds"] for r in rounds)
    return {"rps": requests / seconds, "p50_ms": statistics.median(r["p50_ms"] for r in rounds),
            "p99_ms": max(r["p99_ms"] for r in rounds), "requests": requests,
            "errors": sum(r["errors"] for r in rounds), "cpu_ms_per_req": server_cpu * 1000 / max(requests, 1),
            "client_cpu_share": max(r["client_cpu_share"] for r in rounds)}


def report(results: dict[str, dict[int, dict[str, float]]], levels: list[int]) -> None:
    print("\n| server | " + " | ".join(f"c={c} req/s (p50/p99 ms)" for c in levels)
          + " | server CPU/request (ms) |")
    print("|---|" + "---|" * (len(levels) + 1))
    for name, points in results.items():
        cells = []
        for p in (points[c] for c in levels):
            flag = " ⚠ client-bound" if p["client_cpu_share"] > 0.9 else ""
            cells.append(f"{p['rps']:.0f} ({p['p50_ms']:.2f}/{p['p99_ms']:.2f}){flag}")
        cpus = "/".join(f"{points[c]['cpu_ms_per_req']:.3f}" for c in levels)
        print(f"| {name} | " + " | ".join(cells) + f" | {cpus} |")
    for mine in ("modelyard", "modelyard-nobatch"):
        if mine not in results:
            continue
        my = results[mine]
        for peer in ("mlflow", "bare", "modelyard-nobatch"):
            if peer in results and peer != mine:
                ratios = [my[c]["rps"] / results[peer][c]["rps"] for c in levels]
                cpu = [results[peer][c]["cpu_ms_per_req"] / my[c]["cpu_ms_per_req"] for c in levels]
                print(f"| {mine} / {peer} (throughput; CPU/request {peer}/{mine}) | "
                      + " | ".join(f"{r:.2f}×" for r in ratios) + " | " + "/".join(f"{x:.2f}×" for x in cpu) + " |")
    print("\nwrk cpu is the load generator's share of one core; ⚠ client-bound marks points where it"
          " exceeded 90%: there the client, not the server, limited requests/s.")


if __name__ == "__main__":
    sys.exit(main())
