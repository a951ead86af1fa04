"""Server CPU per small write, A/B: ``modelyard server`` from several checkouts side by side.

    python -m benchmarks.tracking.hotab --checkout base=/tmp/base --checkout new=. [--calls 3000] [--rounds 5]

Each checkout's server (its own code first on PYTHONPATH, SQLite ``synchronous=FULL``, the default, one
worker) runs on a fresh store. Rounds alternate between the servers so all see the same machine load. A
round per server: ``--calls`` raw ``POST runs/log-metric`` from one keep-alive client, then ``--threads``
client threads (one keep-alive connection each) sending ``--calls`` between them. Printed per checkout:
the median over rounds of the server process tree's CPU per call (``/proc``), and of the calls per second
with the threads. With ``--auth`` every server runs with ``--auth`` and the client signs in with HTTP Basic
(an admin: the check of a grant is measured by :mod:`benchmarks.auth_overhead`). With ``--pause-ms``
the lone client is measured a second time pausing before each call, as a slower client (MlflowClient)
does: a server idle between calls pays more CPU per call (cold caches), whatever the request.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

from .cpu import settled_cpu
from .servers import cpu_per_call, launch_modelyard, stop

API = "/api/2.0/mlflow"
PASSWORD = "a long benchmark password"


def _launch(name: str, checkout: Path, workdir: Path, auth: bool) -> tuple[subprocess.Popen[bytes], str]:
    folder = workdir / name
    return launch_modelyard(f"sqlite:///{folder / 'db.sqlite'}", folder, checkout=checkout,
                            admin=("admin", PASSWORD) if auth else None)


def _client(url: str, auth: bool) -> httpx.Client:
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    return httpx.Client(base_url=url, headers=headers, timeout=60)


def _new_run(url: str, auth: bool) -> str:
    with _client(url, auth) as http:
        exp = http.post(f"{API}/experiments/create", json={"name": f"hot-{time.monotonic_ns()}"}).json()["experiment_id"]
        return str(http.post(f"{API}/runs/create", json={"experiment_id": exp}).json()["run"]["info"]["run_id"])


def _log_one(http: httpx.Client, run: str, i: int) -> None:
    body = json.dumps({"run_id": run, "key": "m", "value": i * 0.5, "timestamp": 1_700_000_000_000 + i, "step": i})
    r = http.post(f"{API}/runs/log-metric", content=body)
    if r.status_code != 200:
        raise RuntimeError(f"log-metric answered {r.status_code}: {r.text}")


def _log(http: httpx.Client, run: str, start: int, count: int) -> None:
    for i in range(start, start + count):
        _log_one(http, run, i)


def one_client(proc: subprocess.Popen[bytes], url: str, calls: int, auth: bool, pause: float = 0.0) -> float:
    """Server CPU ms per log_metric, one keep-alive client (``pause`` seconds between calls)."""
    run = _new_run(url, auth)
    with _client(url, auth) as http:
        _log(http, run, 0, 50)  # warm

        def call(i: int) -> None:
            if pause:
                time.sleep(pause)
            _log_one(http, run, i)
        return cpu_per_call(proc.pid, call, calls, 50)


def threads(proc: subprocess.Popen[bytes], url: str, calls: int, count: int, auth: bool) -> tuple[float, float]:
    """(server CPU ms per call, calls per second) with ``count`` client threads."""
    run = _new_run(url, auth)
    each = calls // count
    clients = [_client(url, auth) for _ in range(count)]
    for i, http in enumerate(clients):
        _log(http, run, i * 1_000_000, 5)  # connected and warm
    workers = [threading.Thread(target=_log, args=(http, run, i * 1_000_000 + 10, each)) for i, http in enumerate(clients)]
    before = settled_cpu([proc.pid])
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - started
    cpu = settled_cpu([proc.pid]) - before
    for http in clients:
        http.close()
    return cpu * 1000 / (each * count), each * count / wall


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkout", action="append", required=True, help="NAME=PATH of a checkout (repeat)")
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--auth", action="store_true", help="servers with --auth, the client an admin")
    parser.add_argument("--pause-ms", type=float, default=0.0,
                        help="also measure one client pausing this long before each call (as a slower client"
                             " does: MlflowClient spends ~3 ms of its own per call)")
    args = parser.parse_args(argv)
    checkouts = [(name, Path(path).resolve()) for name, _, path in (c.partition("=") for c in args.checkout)]
    workdir = Path(tempfile.mkdtemp(prefix="hotab-"))
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    single: dict[str, list[float]] = {name: [] for name, _ in checkouts}
    paused: dict[str, list[float]] = {name: [] for name, _ in checkouts}
    many: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in checkouts}
    try:
        for name, path in checkouts:
            servers[name] = _launch(name, path, workdir, args.auth)
        for r in range(args.rounds):
            order = checkouts if r % 2 == 0 else checkouts[::-1]
            for name, _ in order:
                proc, url = servers[name]
                single[name].append(one_client(proc, url, args.calls, args.auth))
                if args.pause_ms:
                    paused[name].append(one_client(proc, url, args.calls, args.auth, args.pause_ms / 1000))
                if args.threads:
                    many[name].append(threads(proc, url, args.calls, args.threads, args.auth))
            print(f"round {r + 1}: " + ", ".join(
                f"{n} {single[n][-1]:.3f}" + (f"/{many[n][-1][0]:.3f} ms {many[n][-1][1]:.0f}/s" if many[n] else "")
                for n, _ in checkouts), flush=True)
        print(f"\nmedians of {args.rounds} rounds, load average {os.getloadavg()[0]:.1f}:")
        print("| checkout | log_metric, 1 client (server CPU ms) | "
              f"{args.threads} clients, CPU ms per call | {args.threads} clients, calls/s |")
        print("|---|---:|---:|---:|")
        for name, _ in checkouts:
            cpu8 = statistics.median(c for c, _ in many[name]) if many[name] else float("nan")
            rate = statistics.median(r for _, r in many[name]) if many[name] else float("nan")
            print(f"| {name} | {statistics.median(single[name]):.3f} | {cpu8:.3f} | {rate:,.0f} |")
        if args.pause_ms:
            print(f"\none client, {args.pause_ms:g} ms pause before each call, server CPU ms per call (median): "
                  + ", ".join(f"{name} {statistics.median(paused[name]):.3f}" for name, _ in checkouts))
    finally:
        for proc, _ in servers.values():
            stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
