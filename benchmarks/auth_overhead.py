"""Server CPU per call with authentication on vs off (issue 16: at most 5% more).

Two ``modelyard server`` processes over fresh SQLite stores: one plain, one with ``--auth`` (an
admin account; a user with EDIT on the benchmark experiment sends HTTP Basic, verified once and
then cached). Raw HTTP with keep-alive, one client: ``log_metric``, ``log-batch`` (100 metrics)
and ``runs/search`` (one experiment of 200 runs, 100 per page). For each workload the two servers
are measured alternately, ``--repeats`` times, and the median of server CPU per call (utime+stime
of the process tree) is printed with the ratio on/off.

    python -m benchmarks.auth_overhead --calls 1000 --repeats 5

The load-independent figure, instructions per call in process, is :mod:`benchmarks.auth_instructions`'s.

Competitor: MLflow 3.17's basic-auth app is not run here (it needs the full ``mlflow`` with Flask
and its own SQLite file); its overhead is not the question of the bar, which compares us with us.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx

from benchmarks.tracking.servers import cpu_per_call, launch_modelyard, stop

PASSWORD = "a long benchmark password"
API = "/api/2.0/mlflow"


def start(workdir: Path, auth: bool) -> tuple[subprocess.Popen[bytes], str]:
    return launch_modelyard(f"sqlite:///{workdir / 'db.sqlite'}", workdir, admin=("root", PASSWORD) if auth else None)


def prepare(url: str, auth: bool) -> tuple[httpx.Client, str, str]:
    """A client (as a user with EDIT, when auth is on), an experiment of 200 runs and one run to log to."""
    admin = httpx.Client(base_url=url, auth=("root", PASSWORD) if auth else None, timeout=30)
    if auth:
        admin.post(f"{API}/users/create", json={"username": "bench", "password": PASSWORD}).raise_for_status()
    exp = admin.post(f"{API}/experiments/create", json={"name": "bench"}).json()["experiment_id"]
    if auth:
        admin.post("/api/3.0/mlflow/users/permissions/grant", json={
            "username": "bench", "resource_type": "experiment", "resource_id": exp, "permission": "EDIT"}
        ).raise_for_status()
    client = httpx.Client(base_url=url, auth=("bench", PASSWORD) if auth else None, timeout=30)
    runs = [client.post(f"{API}/runs/create", json={"experiment_id": exp}).json()["run"]["info"]["run_id"]
            for _ in range(200)]
    for i, run in enumerate(runs[:200]):
        client.post(f"{API}/runs/log-metric", json={"run_id": run, "key": "loss", "value": i / 200, "timestamp": 1,
                                                   "step": 0}).raise_for_status()
    return client, exp, runs[0]


def workloads(client: httpx.Client, exp: str, run: str) -> dict[str, Callable[[int], None]]:
    def log_metric(i: int) -> None:
        client.post(f"{API}/runs/log-metric", json={"run_id": run, "key": "m", "value": float(i),
                                                   "timestamp": 1000 + i, "step": i}).raise_for_status()

    def log_batch(i: int) -> None:
        metrics = [{"key": f"k{j}", "value": float(i), "timestamp": 1000 + i, "step": i} for j in range(100)]
        client.post(f"{API}/runs/log-batch", json={"run_id": run, "metrics": metrics}).raise_for_status()

    def search(i: int) -> None:
        client.post(f"{API}/runs/search", json={"experiment_ids": [exp], "max_results": 100,
                                                "order_by": ["metrics.loss ASC"]}).raise_for_status()

    return {"log_metric": log_metric, "log_batch": log_batch, "search": search}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=1000, help="calls per workload per repeat")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--workloads", default="log_metric,log_batch,search", help="comma-separated, of these three")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as off_dir, tempfile.TemporaryDirectory() as on_dir:
        servers = {"off": start(Path(off_dir), False), "on": start(Path(on_dir), True)}
        try:
            prepared = {name: prepare(url, name == "on") for name, (_, url) in servers.items()}
            loads = {name: workloads(*prepared[name]) for name in servers}
            print(f"{'workload':<12} {'off ms/call':>12} {'on ms/call':>12} {'on/off':>8}")
            for workload in args.workloads.split(","):
                samples: dict[str, list[float]] = {"off": [], "on": []}
                for r in range(args.repeats):
                    order = ("off", "on") if r % 2 == 0 else ("on", "off")  # alternated
                    for name in order:
                        samples[name].append(cpu_per_call(servers[name][0].pid, loads[name][workload], args.calls,
                                                         r * args.calls))
                off, on = statistics.median(samples["off"]), statistics.median(samples["on"])
                print(f"{workload:<12} {off:>12.3f} {on:>12.3f} {on / off:>8.3f}", flush=True)
        finally:
            for proc, _ in servers.values():
                stop(proc)


if __name__ == "__main__":
    main()
