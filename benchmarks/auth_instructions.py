"""Instructions per call with authentication on vs off, counted by valgrind's callgrind (load-independent).

    python -m benchmarks.auth_instructions [--calls 200] [--workloads log_metric,log_batch,search]

For each workload and for auth off and on, a child process builds the whole ASGI app in process
(``create_app``: every middleware, the hot path, service and store; SQLite on ``/dev/shm`` with
``synchronous=OFF``, so neither uvicorn nor an fsync is counted; a lone hot call always answered on the
event loop, whatever valgrind's slowdown), warms it up, switches callgrind's
instrumentation on (``callgrind_control -i on``) for ``--calls`` requests and prints the instructions per
call. With auth the requests carry HTTP Basic of a user holding EDIT on the experiment (or, with
``--scheme bearer``/``cookie``, that user's access token or UI session cookie); ``auth_cache_seconds``
is 600 so the cache does not expire under valgrind's slowdown. Needs ``valgrind`` on the PATH.

The workloads are :mod:`benchmarks.auth_overhead`'s: ``runs/log-metric``, ``runs/log-batch`` (100
metrics) and ``runs/search`` (100 of 200 runs).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

API = "/api/2.0/mlflow"
PASSWORD = "a long benchmark password"
WORKLOADS = ("log_metric", "log_batch", "search")


async def _post(app: Any, path: str, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> int:
    raw = json.dumps(body).encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(raw)).encode()), *headers],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 5000)}
    pending = [{"type": "http.request", "body": raw, "more_body": False}]
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


def _bodies(workload: str, exp: str, run: str, i: int) -> tuple[str, dict[str, Any]]:
    if workload == "log_metric":
        return "/runs/log-metric", {"run_id": run, "key": "m", "value": float(i), "timestamp": 1000 + i, "step": i}
    if workload == "log_batch":
        metrics = [{"key": f"k{j}", "value": float(i), "timestamp": 1000 + i, "step": i} for j in range(100)]
        return "/runs/log-batch", {"run_id": run, "metrics": metrics}
    return "/runs/search", {"experiment_ids": [exp], "max_results": 100, "order_by": ["metrics.loss ASC"]}


def child(workload: str, auth: bool, scheme: str, calls: int, warmup: int, folder: str) -> None:
    """Runs inside valgrind: set up, warm up, count ``calls`` requests."""
    from modelyard.entities import Metric
    from modelyard.server import create_app, hotpath
    from modelyard.settings import Settings

    settings = Settings(backend_store_uri=f"sqlite:///{folder}/db.sqlite", artifacts_destination=f"{folder}/artifacts",
                        background_workers=False, sqlite_synchronous="OFF", auth=auth, auth_admin_username="root",
                        auth_admin_password=PASSWORD, auth_cache_seconds=600.0)
    # Under valgrind every call is slow: without this the hot path would pause answering on the loop now and then
    # and take the writer's thread instead, and the count would depend on timing.
    hotpath.INLINE_SLOW_SECONDS = float("inf")
    app = create_app(settings)
    svc = app.state.service
    exp = svc.experiments.create("bench")
    runs = [svc.runs.create(exp).info.run_id for _ in range(200)]
    for i, run in enumerate(runs):
        svc.runs.log_metric(run, Metric("loss", i / 200, 1, 0))
    headers: list[tuple[bytes, bytes]] = []
    if auth:
        svc.auth.ensure_admin()
        svc.auth.create_user("bench", PASSWORD)
        svc.auth.grant("bench", "experiment", exp, "EDIT")
        if scheme == "basic":
            headers = [(b"authorization", b"Basic " + base64.b64encode(f"bench:{PASSWORD}".encode()))]
        elif scheme == "bearer":
            secret, _ = svc.auth.create_token("bench", "bench")
            headers = [(b"authorization", f"Bearer {secret}".encode())]
        else:
            from modelyard.server import session

            user = svc.auth.get_user("bench")
            cookie = session.make(session.secret_of(app), user.id, user.username, user.password_hash, 1.0)
            headers = [(b"cookie", f"{session.COOKIE}={cookie}".encode())]

    async def loop() -> None:
        for i in range(warmup):
            path, body = _bodies(workload, exp, runs[0], i)
            assert await _post(app, API + path, body, headers) == 200
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True)
        for i in range(warmup, warmup + calls):
            path, body = _bodies(workload, exp, runs[0], i)
            await _post(app, API + path, body, headers)
        subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], check=True, capture_output=True)

    asyncio.run(loop())
    app.hot.close()
    svc.close()


def count(workload: str, auth: bool, scheme: str, calls: int, warmup: int) -> float:
    """Instructions per call of one workload, auth on or off (one child under callgrind)."""
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as folder:
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={folder}/callgrind.out",
                sys.executable, "-m", "benchmarks.auth_instructions", "--child", workload, "--scheme", scheme,
                "--calls", str(calls), "--warmup", str(warmup), "--folder", folder, *(["--auth"] if auth else [])]
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-3000:])
        found = re.search(r"Collected : (\d+)", done.stderr)
        assert found is not None, "no count in callgrind's report"
        return int(found.group(1)) / calls


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--scheme", choices=("basic", "bearer", "cookie"), default="basic")
    p.add_argument("--child", choices=WORKLOADS, help=argparse.SUPPRESS)
    p.add_argument("--auth", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child, args.auth, args.scheme, args.calls, args.warmup, args.folder)
        return
    print(f"{'workload':<12} {'off':>12} {'on (' + args.scheme + ')':>14} {'on/off':>8}")
    for workload in args.workloads.split(","):
        off = count(workload, False, args.scheme, args.calls, args.warmup)
        on = count(workload, True, args.scheme, args.calls, args.warmup)
        print(f"{workload:<12} {off:>12,.0f} {on:>14,.0f} {on / off:>8.3f}", flush=True)


if __name__ == "__main__":
    main()
