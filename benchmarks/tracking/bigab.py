"""The big search over HTTP, A/B: servers from several checkouts on copies of one seeded store.

    python -m benchmarks.tracking.bigab --db /tmp/big.db --checkout base=/tmp/base --checkout new=. [--rounds 5]

``--db`` is a SQLite store holding the bigsearch experiment (seed one with
``python -m benchmarks.tracking.selective --store sqlite:////tmp/big.db``). Each
checkout's ``modelyard server`` (its own code first on PYTHONPATH, SQLite
``synchronous=FULL`` as the benchmark's "modelyard" column) serves a copy of it; the
rounds alternate between the servers so both see the same machine load. A query is the
benchmark's raw one (``workloads.Bench._search_raw``): POST ``/runs/search`` with the
standard filter and order, ``max_results`` 1000, then ``r.json()``. Per checkout it
prints the wall per query (median and min over all queries), the server tree's CPU
and this client's CPU per query, the body's size and whether every body was identical across checkouts.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from . import data
from .cpu import settled_cpu
from .selective import _seeded, _service
from .servers import launch_modelyard, stop


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", type=Path, required=True, help="seeded SQLite file")
    p.add_argument("--checkout", action="append", required=True, help="name=path of a modelyard checkout")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--per-round", type=int, default=10, help="queries per server per round")
    p.add_argument("--max-results", type=int, default=1000)
    p.add_argument("--filter", default=data.FILTER)
    p.add_argument("--order-by", default=",".join(data.ORDER_BY))
    args = p.parse_args(argv)

    svc = _service(f"sqlite:///{args.db}")
    exp = _seeded(svc, 100_000)
    svc.close()
    if exp is None:
        raise SystemExit(f"{args.db} holds no bigsearch experiment: seed it with benchmarks.tracking.selective")
    base = Path(tempfile.mkdtemp(prefix="modelyard-bigab-"))
    servers: dict[str, tuple[subprocess.Popen[bytes], httpx.Client]] = {}
    body = {"experiment_ids": [exp], "filter": args.filter, "order_by": args.order_by.split(","),
            "max_results": args.max_results}
    wall: dict[str, list[float]] = {}
    cpu: dict[str, float] = {}
    client: dict[str, float] = {}
    digests: dict[str, set[str]] = {}
    size: dict[str, int] = {}
    try:
        for spec in args.checkout:
            name, _, path = spec.partition("=")
            work = base / name
            work.mkdir()
            shutil.copyfile(args.db, work / "big.db")
            proc, url = launch_modelyard(f"sqlite:///{work / 'big.db'}", work, checkout=Path(path).resolve(),
                                         log=f"{name}.log")
            http = httpx.Client(base_url=f"{url}/api/2.0/mlflow", timeout=600.0)
            servers[name] = (proc, http)
            wall[name], cpu[name], client[name], digests[name] = [], 0.0, 0.0, set()
            for _ in range(3):  # warm the page cache and the compiled SQL
                http.post("/runs/search", json=body).json()
        for _ in range(args.rounds):
            for name, (proc, http) in servers.items():
                c0, k0 = settled_cpu([proc.pid]), time.process_time()
                for _ in range(args.per_round):
                    t0 = time.perf_counter()
                    r = http.post("/runs/search", json=body)
                    r.json()
                    wall[name].append(time.perf_counter() - t0)
                    if r.status_code != 200:
                        raise RuntimeError(f"{name}: {r.status_code} {r.text[:300]}")
                    digests[name].add(hashlib.sha256(r.content).hexdigest())
                    size[name] = len(r.content)
                client[name] += time.process_time() - k0
                cpu[name] += settled_cpu([proc.pid]) - c0
        n = args.rounds * args.per_round
        same = len(set().union(*digests.values())) == 1
        print(f"{n} queries each, {args.rounds} alternating rounds; identical bodies across checkouts: {same}")
        for name in servers:
            w = wall[name]
            print(f"  {name:10s} wall median {statistics.median(w) * 1e3:6.1f} ms  min {min(w) * 1e3:6.1f} ms"
                  f"  server cpu {cpu[name] / n * 1e3:6.1f} ms/query  client cpu {client[name] / n * 1e3:5.1f}  body {size[name] / 1024:.0f} KB", flush=True)
    finally:
        for proc, http in servers.values():
            http.close()
            stop(proc)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
