"""What the HTTP server costs per request, apart from the app: the floor under every small call.

    python -m benchmarks.tracking.front [--n 4000] [--repeats 5] [--servers raw,uvicorn,...]

Each server of :mod:`.front_server` answers the same keep-alive client (httpx, one
connection, a log_metric-sized JSON body) ``--n`` times; the figure is the server's process
tree CPU per request (``/proc``, as the tracking benchmark measures it), the median of
``--repeats`` alternated runs. ``modelyard`` is a real ``modelyard server`` answering
``runs/log-metric`` on SQLite (``synchronous=FULL``, the default), for scale.

granian is measured when it is installed (``pip install granian``); it is not a dependency.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from . import servers
from .cpu import tree_cpu

SERVERS = ["raw", "uvicorn", "uvicorn-limits", "granian", "modelyard"]


def _start(kind: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    if kind == "modelyard":
        cmd = [*servers.modelyard_base_command(), "server", "--backend-store-uri", f"sqlite:///{workdir}/m.db",
               "--artifacts-destination", str(workdir / "artifacts"), "--port", str(port)]
    else:
        cmd = [sys.executable, "-m", "benchmarks.tracking.front_server", kind, str(port)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def one(kind: str, n: int) -> float:
    """Server CPU per request, ms."""
    port = servers.free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = _start(kind, port, Path(tmp))
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                for _ in range(300):
                    try:
                        client.get("/health")
                        break
                    except httpx.TransportError:
                        time.sleep(0.1)
                path, run_id = "/x", "r"
                if kind == "modelyard":
                    path = "/api/2.0/mlflow/runs/log-metric"
                    run_id = client.post("/api/2.0/mlflow/runs/create",
                                         json={"experiment_id": "0"}).json()["run"]["info"]["run_id"]

                def calls(count: int) -> None:
                    for i in range(count):
                        r = client.post(path, json={"run_id": run_id, "key": "m", "value": i, "timestamp": 1,
                                                    "step": i})
                        r.raise_for_status()

                calls(300)  # warm
                before = tree_cpu(proc.pid)
                calls(n)
                return (tree_cpu(proc.pid) - before) / n * 1000
        finally:
            servers.stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--servers", default=",".join(SERVERS))
    args = parser.parse_args()
    kinds = [k for k in args.servers.split(",") if k != "granian" or importlib.util.find_spec("granian")]
    figures: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(args.repeats):
        for kind in kinds:
            figures[kind].append(one(kind, args.n))
    floor = statistics.median(figures[kinds[0]])
    print(f"\nServer CPU per request, ms (median of {args.repeats}; n={args.n}):\n")
    print(f"| server | CPU per request | over {kinds[0]} | runs |")
    print("|---|---:|---:|---|")
    for kind in kinds:
        med = statistics.median(figures[kind])
        print(f"| {kind} | {med:.3f} | {med - floor:+.3f} | {', '.join(f'{x:.3f}' for x in figures[kind])} |")


if __name__ == "__main__":
    main()
