"""Where modelyard's server CPU goes, layer by layer, for each small workload.

    python -m benchmarks.tracking.layers [--n 1000] [--pyspy DIR] [--big-runs 100000]

For each operation it measures CPU per call (``time.process_time``: this
process only, single thread of work) in three layers, on SQLite with
``synchronous=FULL`` and ``NORMAL``:

- ``service``: ``TrackingService`` called in process (rules + store + commit, and
  the fsync on FULL). FULL - NORMAL is the commit's fsync.
- ``asgi``: the Starlette app called in process with a ready-made ASGI scope
  and body (routing, Request, msgspec decode, service, to_dict, msgspec encode,
  Response). asgi - service is the web framework and JSON.
- ``server``: a real ``modelyard server`` over loopback HTTP, its process tree's
  CPU from /proc (as the benchmark measures it). server - asgi is uvicorn,
  httptools, the socket and the event loop.

With ``--pyspy DIR`` the server runs are also recorded with py-spy (Python
frames, on-CPU samples only, --nonblocking so the server is never paused) into DIR/<op>-<sync>.txt (collapsed stacks) and the
heaviest frames are printed. The figures are the stable ones on a loaded
machine: CPU time, not wall.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from . import data, servers

OPS = ["log_metric", "run", "log_batch1000", "search", "history"]


def _settings(db: Path, sync: str) -> Any:
    from modelyard.settings import Settings

    return Settings(backend_store_uri=f"sqlite:///{db}", artifacts_destination=str(db.parent / "artifacts"),
                    sqlite_synchronous=sync, background_workers=False)


class Fixture:
    """Per operation: a seeded store and a callable doing one unit of work, in three layers."""

    def __init__(self, svc: Any, n: int, tag: str) -> None:
        self.svc, self.n, self.tag = svc, n, tag
        self.exp = svc.experiments.create(f"layers-{tag}-{time.time_ns()}")
        self.i = 0
        self.search_exp: str | None = None
        self.history_run: str | None = None

    # seeds shared by the service and HTTP layers (ids are read back per layer)
    def seed_search(self) -> str:
        from modelyard.entities import Metric, Param, RunTag

        if self.search_exp is None:
            self.search_exp = self.svc.experiments.create(f"search-{self.tag}-{time.time_ns()}")
            for s in data.run_seeds(2000):
                ts = data.T0 + s.index
                rid = self.svc.runs.create(self.search_exp, start_time=ts).info.run_id
                self.svc.runs.log_batch(rid, [Metric(k, v, ts, 0) for k, v in s.metrics],
                                        [Param(k, v) for k, v in s.params], [RunTag(k, v) for k, v in s.tags])
        return self.search_exp

    def seed_history(self) -> str:
        from modelyard.entities import Metric

        if self.history_run is None:
            self.history_run = self.svc.runs.create(self.exp).info.run_id
            for i in range(0, 10_000, 1000):
                self.svc.runs.log_batch(self.history_run, [Metric("h", j * 0.5, data.T0 + j, j) for j in range(i, i + 1000)])
        return self.history_run


def bodies(op: str, fx: Fixture, n: int) -> list[tuple[str, str, bytes, str]]:
    """(method, path, body, query) for n requests of `op`, as the benchmark sends them."""
    api = "/api/2.0/mlflow"
    out = []
    if op == "log_metric":
        rid = fx.svc.runs.create(fx.exp).info.run_id
        for i in range(n):
            out.append(("POST", f"{api}/runs/log-metric", json.dumps(
                {"run_id": rid, "key": "loss", "value": 1.0 / (i + 1), "timestamp": data.T0 + i, "step": i}).encode(), ""))
    elif op == "run":
        for s in data.run_seeds(n, seed=7):
            out.append(("POST", f"{api}/runs/create", json.dumps(
                {"experiment_id": fx.exp, "start_time": data.T0 + s.index}).encode(), ""))
            out.append(("POST", f"{api}/runs/log-batch", json.dumps(s.raw()).encode(), "RUN"))  # run_id filled in
    elif op == "log_batch1000":
        rid = fx.svc.runs.create(fx.exp).info.run_id
        for b in data.metric_points(n, 1000):
            out.append(("POST", f"{api}/runs/log-batch", json.dumps({"run_id": rid, "metrics": [
                {"key": k, "value": v, "timestamp": ts, "step": st} for k, v, ts, st in b]}).encode(), ""))
    elif op == "search":
        exp = fx.seed_search()
        body = json.dumps({"experiment_ids": [exp], "filter": data.FILTER, "order_by": data.ORDER_BY,
                           "max_results": 1000}).encode()
        out = [("POST", f"{api}/runs/search", body, "")] * n
    elif op == "history":
        rid = fx.seed_history()
        out = [("GET", f"{api}/metrics/get-history", b"", f"run_id={rid}&metric_key=h")] * n
    return out


def counts(op: str, n: int) -> int:
    return {"log_metric": n, "run": n // 4, "log_batch1000": max(n // 20, 5), "search": max(n // 100, 5),
            "history": max(n // 100, 5)}[op]


def service_layer(op: str, fx: Fixture, n: int) -> Callable[[], None]:
    """A closure doing n units of `op` on the service (prepared outside the clock)."""
    from modelyard.entities import Metric, Param, RunTag

    svc = fx.svc
    if op == "log_metric":
        rid = svc.runs.create(fx.exp).info.run_id
        ms = [Metric("loss", 1.0 / (i + 1), data.T0 + i, i) for i in range(n)]
        return lambda: [svc.runs.log_metric(rid, m) for m in ms] and None
    if op == "run":
        seeds = data.run_seeds(n, seed=3)

        def work() -> None:
            for s in seeds:
                ts = data.T0 + s.index
                rid = svc.runs.create(fx.exp, start_time=ts).info.run_id
                svc.runs.log_batch(rid, [Metric(k, v, ts, 0) for k, v in s.metrics],
                                   [Param(k, v) for k, v in s.params], [RunTag(k, v) for k, v in s.tags])
        return work
    if op == "log_batch1000":
        rid = svc.runs.create(fx.exp).info.run_id
        batches = [[Metric(*p) for p in b] for b in data.metric_points(n, 1000)]
        return lambda: [svc.runs.log_batch(rid, b) for b in batches] and None
    if op == "search":
        exp = fx.seed_search()
        return lambda: [svc.runs.search([exp], data.FILTER, "ACTIVE_ONLY", 1000, data.ORDER_BY, None)
                        for _ in range(n)] and None
    if op == "history":
        rid = fx.seed_history()
        return lambda: [svc.runs.metric_history(rid, "h") for _ in range(n)] and None
    raise ValueError(op)


def asgi_layer(app: Any, reqs: list[tuple[str, str, bytes, str]]) -> Callable[[], None]:
    """A closure sending `reqs` through the ASGI app in process, on one event loop."""
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()

    async def one(method: str, path: str, body: bytes, query: str) -> bytes:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
            "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 5000),
            "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode())],
        }
        sent = False
        chunks: list[bytes] = []
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(msg: dict[str, Any]) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = msg["status"]
            elif msg["type"] == "http.response.body":
                chunks.append(msg.get("body", b""))
        await app(scope, receive, send)
        if status != 200:
            raise RuntimeError(f"{method} {path} -> {status} {b''.join(chunks)[:200]!r}")
        return b"".join(chunks)

    async def run_all() -> None:
        run_id = None
        for method, path, body, query in reqs:
            if query == "RUN":  # log-batch right after a create: fill in the new run's id
                body = json.dumps({"run_id": run_id, **json.loads(body)}).encode()
                query = ""
            out = await one(method, path, body, query)
            if path.endswith("/runs/create"):
                run_id = json.loads(out)["run"]["info"]["run_id"]

    return lambda: loop.run_until_complete(run_all())


def server_layer(server: servers.Server, reqs: list[tuple[str, str, bytes, str]]) -> Callable[[], None]:
    http = httpx.Client(base_url=server.url, timeout=600)

    def work() -> None:
        run_id = None
        for method, path, body, query in reqs:
            if query == "RUN":
                body = json.dumps({"run_id": run_id, **json.loads(body)}).encode()
                query = ""
            r = http.request(method, path + (f"?{query}" if query else ""), content=body or None,
                             headers={"content-type": "application/json"})
            if r.status_code != 200:
                raise RuntimeError(f"{method} {path} -> {r.status_code} {r.text[:200]}")
            if path.endswith("/runs/create"):
                run_id = r.json()["run"]["info"]["run_id"]
    return work


def cpu_of(fn: Callable[[], None]) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def pyspy_summary(path: Path, top: int = 12) -> str:
    """Heaviest frames of a py-spy collapsed-stack file: self time and inclusive groups."""
    self_t: collections.Counter[str] = collections.Counter()
    groups: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        c = int(count)
        total += c
        frames = stack.split(";")
        self_t[frames[-1]] += c
        text = stack.lower()
        for name, needles in GROUPS:
            if any(n in text for n in needles):
                groups[name] += c
    if not total:
        return "  (no samples)"
    lines = [f"  {total} samples; inclusive groups (a sample can be in several):"]
    lines += [f"    {100 * c / total:5.1f}%  {name}" for name, c in groups.most_common()]
    lines.append("  top self frames:")
    lines += [f"    {100 * c / total:5.1f}%  {frame[:150]}" for frame, c in self_t.most_common(top)]
    return "\n".join(lines)


GROUPS = [
    ("fsync/fdatasync (commit)", ("fsync", "fdatasync")),
    ("sqlite3 commit", ("commit (sqlite3", "pysqlite_connection_commit", "_pysqlite_connection_commit", "sqlite3vdbehalt")),
    ("modelyard.store", ("modelyard/store/",)),
    ("modelyard.service", ("modelyard/service/",)),
    ("sqlalchemy", ("sqlalchemy/",)),
    ("msgspec", ("msgspec",)),
    ("to_dict (entities)", ("to_dict (modelyard/entities",)),
    ("starlette", ("starlette/",)),
    ("uvicorn/httptools", ("uvicorn/", "httptools")),
    ("anyio thread hop", ("anyio/", "run_in_threadpool")),
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.tracking.layers", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1000, help="log_metric calls; other ops scale from it")
    p.add_argument("--ops", default=",".join(OPS))
    p.add_argument("--sync", default="FULL,NORMAL")
    p.add_argument("--pyspy", type=Path, help="record the server runs with py-spy into this folder")
    p.add_argument("--layers", default="service,asgi,server")
    args = p.parse_args(argv)
    ops = [o for o in args.ops.split(",") if o]
    syncs = [s for s in args.sync.split(",") if s]
    layers = [x for x in args.layers.split(",") if x]
    base = Path(tempfile.mkdtemp(prefix="modelyard-layers-"))
    from modelyard.server.app import create_app
    from modelyard.service import TrackingService

    results: dict[tuple[str, str, str], float] = {}
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    try:
        for sync in syncs:
            for layer in layers:
                if layer == "server":
                    spec = servers.SPECS["modelyard" if sync == "FULL" else "modelyard-normal"]
                    ctx = servers.launch(spec, "sqlite", base / f"server-{sync}", "")
                    server = ctx.__enter__()
                    svc = TrackingService(_settings(Path(server.store_uri.split(":///", 1)[1]), sync))
                else:
                    ctx, server = None, None
                    svc = TrackingService(_settings(base / f"{layer}-{sync}" / "db.sqlite", sync))
                try:
                    app = create_app(service=svc) if layer == "asgi" else None
                    for op in ops:
                        n = counts(op, args.n)
                        fx = Fixture(svc, n, f"{layer}-{op}")
                        if layer == "service":
                            fn = service_layer(op, fx, n)
                        elif layer == "asgi":
                            fn = asgi_layer(app, bodies(op, fx, n))
                        else:
                            fn = server_layer(server, bodies(op, fx, n))
                        if layer == "server":
                            rec = None
                            if args.pyspy:
                                args.pyspy.mkdir(parents=True, exist_ok=True)
                                out = args.pyspy / f"{op}-{sync}.txt"
                                rec = subprocess.Popen([spy, "record", "--nonblocking", "--rate", "500", "--format", "raw",
                                                        "-o", str(out), "-p", str(server.proc.pid)],
                                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                                time.sleep(1.0)
                            c0 = server.cpu()
                            fn()
                            cpu = server.cpu() - c0
                            if rec is not None:
                                rec.send_signal(2)
                                rec.wait(timeout=60)
                        else:
                            cpu = cpu_of(fn)
                        results[(op, sync, layer)] = cpu / n
                        print(f"  {sync:<6} {layer:<7} {op:<14} n={n:<5} {cpu / n * 1e3:8.3f} ms CPU per unit", flush=True)
                finally:
                    svc.close()
                    if ctx is not None:
                        ctx.__exit__(None, None, None)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    print("\nCPU per unit of work, ms (unit: a call; a run = create_run + log_batch(10p,5m,3t); a 1000-metric batch; a query):\n")
    head = ["op"] + [f"{layer} {sync}" for sync in syncs for layer in layers]
    rows = [head]
    for op in ops:
        rows.append([op] + [f"{results[(op, s, layer)] * 1e3:.3f}" if (op, s, layer) in results else "-"
                            for s in syncs for layer in layers])
    from .report import markdown
    print(markdown(rows))
    if {"FULL", "NORMAL"} <= set(syncs):
        print("\nDerived, ms per unit: fsync = service FULL - service NORMAL; framework+JSON = asgi - service; "
              "uvicorn/socket = server - asgi (both on NORMAL):\n")
        rows = [["op", "fsync (FULL only)", "store+rules (NORMAL)", "Starlette+msgspec+to_dict", "uvicorn+httptools+socket", "server NORMAL", "server FULL"]]
        for op in ops:
            g = lambda s, layer, op=op: results.get((op, s, layer))
            f = lambda x: "-" if x is None else f"{x * 1e3:.3f}"
            sf, sn, an, vn, vf = g("FULL", "service"), g("NORMAL", "service"), g("NORMAL", "asgi"), g("NORMAL", "server"), g("FULL", "server")
            rows.append([op, f(None if sf is None or sn is None else sf - sn), f(sn),
                         f(None if an is None or sn is None else an - sn), f(None if vn is None or an is None else vn - an),
                         f(vn), f(vf)])
        print(markdown(rows))
    if args.pyspy:
        for f in sorted(args.pyspy.glob("*.txt")):
            print(f"\npy-spy {f.name}:\n{pyspy_summary(f)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
