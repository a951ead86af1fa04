"""Ingest through modelyard's own SDK, embedded (in process) and over HTTP.

Points are built before the clock starts. The clock stops when the last
log_batch call returns (the write is committed); then every point is read
back with get_metric_history and compared, timed separately.
"""

from __future__ import annotations

import contextlib
import os
import resource
import time
from collections.abc import Iterator
from typing import Any

from . import data
from .workloads import WORKLOADS, Result

KEYS = 10
SYNC_ENV = "MODELYARD_SQLITE_SYNCHRONOUS"


def _process_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _sdk() -> tuple[Any, Any]:
    """modelyard.Client and modelyard.Metric, from the curated API if it exports them."""
    import modelyard

    if hasattr(modelyard, "Client") and hasattr(modelyard, "Metric"):
        return modelyard.Client, modelyard.Metric
    from modelyard.client.client import Client
    from modelyard.entities import Metric

    return Client, Metric


def _experiment(client: Any, name: str) -> str:
    create = getattr(client, "create_experiment", None)
    if create is None:
        return "0"
    exp = create(name)
    return str(getattr(exp, "experiment_id", exp))


@contextlib.contextmanager
def _environ(env: dict[str, str] | None) -> Iterator[None]:
    """Set `env` in os.environ for the block (settings are read when a Client is made)."""
    old = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def ingest(key: str, tracking_uri: str, points: int, batch: int, server: Any = None,
           env: dict[str, str] | None = None) -> Result:
    """Log `points` points (KEYS keys × points/KEYS steps) in `batch`-point calls.

    `env` (e.g. MODELYARD_SQLITE_SYNCHRONOUS) is in force while the Client is made.
    """
    Client, Metric = _sdk()
    with _environ(env):
        client = Client(tracking_uri)
    exp = _experiment(client, f"sdk-{key}-{time.time_ns()}")
    run_id = client.create_run(exp).info.run_id
    per_key = points // KEYS
    metrics = [Metric(f"m{k}", step * 0.001 + k, data.T0 + step, step)
               for step in range(per_key) for k in range(KEYS)]
    total = len(metrics)

    c0 = server.cpu() if server else 0.0
    d0 = server.db_cpu() if server else 0.0
    p0 = _process_cpu()
    t0 = time.perf_counter()
    for i in range(0, total, batch):
        client.log_batch(run_id, metrics=metrics[i:i + batch])
    wall = time.perf_counter() - t0
    p1 = _process_cpu()
    cpu = (server.cpu() - c0) if server else (p1 - p0)
    db_cpu = (server.db_cpu() - d0) if server else 0.0

    t1 = time.perf_counter()
    bad = 0
    for k in range(KEYS):
        hist = client.get_metric_history(run_id, f"m{k}")
        got = {(m.step, m.value) for m in hist}
        want = {(step, step * 0.001 + k) for step in range(per_key)}
        bad += len(got ^ want) + (len(hist) - len(got))
    verify = time.perf_counter() - t1
    where = "server" if server else "in-process (SDK + store)"
    sync = (env or {}).get(SYNC_ENV)
    if sync and not server:
        where += f", SQLite synchronous={sync}"
    note = (f"{total / wall:,.0f} points/s until acked, {total / (wall + verify):,.0f} incl. read-back "
            f"({verify:.2f}s); batch {batch:,}; cpu is {where}"
            + (f"; client cpu {p1 - p0:.2f}s" if server else ""))
    close = getattr(client, "close", None)
    if close:
        close()
    r = Result(key, wall, cpu, total, WORKLOADS[key][1], db_cpu=db_cpu, note=note, ok=bad == 0)
    db = f" (+db {db_cpu:.3f}s)" if db_cpu else ""
    print(f"    {key:<18} wall {wall:8.3f}s  cpu {cpu:8.3f}s{db}  {note}  ok={r.ok}", flush=True)
    return r


def seed_runs(store_uri: str, seeds: list[data.RunSeed]) -> tuple[str, str]:
    """Seed runs with the embedded SDK straight into a server's store (it keeps running)."""
    Client, Metric = _sdk()
    from modelyard.entities import Param, RunTag

    # Seeding is not measured and a lost write on power cut does not matter here.
    with _environ({SYNC_ENV: "NORMAL"}):
        client = Client(store_uri)
    try:
        exp = _experiment(client, f"big-{time.time_ns()}")
        for s in seeds:
            ts = data.T0 + s.index
            run_id = client.create_run(exp, start_time=ts).info.run_id
            client.log_batch(run_id, metrics=[Metric(k, v, ts, 0) for k, v in s.metrics],
                             params=[Param(k, v) for k, v in s.params],
                             tags=[RunTag(k, v) for k, v in s.tags])
    finally:
        close = getattr(client, "close", None)
        if close:
            close()
    durability = ", SQLite synchronous=NORMAL" if store_uri.startswith("sqlite") else ""
    return exp, ("with the embedded modelyard SDK into the server's store "
                 f"(create_run + log_batch per run{durability})")
