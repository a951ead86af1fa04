"""The workloads, run the same way against every server.

Each workload is measured by `Bench.measure`: wall time around the client
calls, and server CPU (whole process tree, sampled once the server is quiet)
before and after. Seeding that is not the point of a workload is done
outside the measured span.
"""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from . import data
from .servers import Server, analyze


@dataclass
class Sizes:
    ingest_batches: int = 100  # × batch_size metrics per log_batch
    batch_size: int = 1000
    log_metric_calls: int = 2000  # server CPU is read in 10 ms ticks: at ~0.3 ms a call, 500 calls were ±7%
    runs: int = 500  # run creation through MlflowClient (raw: the search seed)
    search_runs: int = 2000
    repeats: int = 5  # timed repetitions of each read, after one warm-up
    history_steps: int = 10_000
    page_size: int = 100
    big_runs: int = 100_000
    big_max_results: int = 1000
    seed_threads: int = 4
    sdk_points: int = 1_000_000
    sdk_batch: int = 100_000
    concurrent_clients: int = 8
    concurrent_calls: int = 250  # per client

    @classmethod
    def quick(cls) -> Sizes:
        return cls(ingest_batches=10, log_metric_calls=100, runs=50, search_runs=500,
                   repeats=3, history_steps=2000, big_runs=5000, sdk_points=100_000,
                   sdk_batch=50_000, concurrent_calls=50)


@dataclass
class Result:
    key: str
    wall: float  # s, whole workload
    cpu: float  # s of server CPU, whole workload
    units: int
    unit: str
    db_cpu: float = 0.0  # s of PostgreSQL CPU (whole cluster), 0 on SQLite
    note: str = ""
    check: Any = None  # compared across servers and against the expected answer
    ok: bool | None = None
    error: str | None = None


# key -> (label, unit)
WORKLOADS: dict[str, tuple[str, str]] = {
    "ingest.client": ("log_batch ×1000 metrics, MlflowClient", "point"),
    "ingest.raw": ("log_batch ×1000 metrics, raw POST", "point"),
    "log_metric.client": ("log_metric, MlflowClient", "call"),
    "log_metric.raw": ("log_metric, raw POST", "call"),
    "concurrent.raw": ("log_metric, 8 clients at once, raw POST", "call"),
    "runs.client": ("create_run+log_batch(10p,5m,3t), MlflowClient", "run"),
    "runs.raw": ("create_run+log_batch(10p,5m,3t), raw POST", "run"),
    "search.raw": ("search filter+order, N runs, raw POST", "query"),
    "search.client": ("search filter+order, N runs, MlflowClient", "query"),
    "history.raw": ("get-history N steps, raw GET", "query"),
    "history.client": ("get_metric_history N steps, MlflowClient", "query"),
    "paging.raw": ("page all N runs by 100, raw POST", "pass"),
    "paging.client": ("page all N runs by 100, MlflowClient", "pass"),
    "bigsearch.raw": ("search filter+order, big experiment, raw POST", "query"),
    "sdk.http": ("modelyard SDK log_batch over HTTP", "point"),
    "sdk.embedded": ("modelyard SDK log_batch embedded", "point"),
}


class Failed(Exception):
    pass


@dataclass
class Bench:
    server: Server
    sizes: Sizes
    big: bool = False  # seed and search the big experiment
    # (seeds) -> (experiment_id, how); default: over REST, create_run + log_batch per run
    big_seeder: Callable[[list[data.RunSeed]], tuple[str, str]] | None = None
    results: list[Result] = field(default_factory=list)

    def __post_init__(self) -> None:
        from mlflow.tracking import MlflowClient

        self.http = httpx.Client(base_url=f"{self.server.url}/api/2.0/mlflow", timeout=600.0)
        self.client = MlflowClient(tracking_uri=self.server.url)
        self.tag = uuid.uuid4().hex[:6]

    def close(self) -> None:
        self.http.close()

    # --- plumbing ------------------------------------------------------------

    def measure(self, key: str, units: int, fn: Callable[[], dict[str, Any] | None]) -> Result:
        s = self.server
        s.alive()
        c0, d0 = s.cpu(), s.db_cpu()
        t0 = time.perf_counter()
        out = fn() or {}
        wall = time.perf_counter() - t0
        c1, d1 = s.cpu(), s.db_cpu()
        r = Result(key, wall, c1 - c0, units, WORKLOADS[key][1], d1 - d0,
                   note=out.get("note", ""), check=out.get("check"), ok=out.get("ok"))
        self.results.append(r)
        return r

    def attempt(self, key: str, fn: Callable[[], object]) -> None:
        """Run one workload; record a failure instead of stopping the run."""
        try:
            fn()
            r = self.results[-1]
            print(f"    {key:<18} wall {r.wall:8.3f}s  server cpu {r.cpu:8.3f}s"
                  + (f" (+db {r.db_cpu:.3f}s)" if r.db_cpu else "")
                  + f"  {r.note}" + ("" if r.ok is None else f"  ok={r.ok}"), flush=True)
        except Exception as e:  # noqa: BLE001 - a peer failing one workload is a finding
            msg = f"{type(e).__name__}: {e}"[:300]
            print(f"    {key:<18} FAILED {msg}", flush=True)
            self.results.append(Result(key, 0.0, 0.0, 0, WORKLOADS[key][1], error=msg))

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        r = self.http.post(path, json=body)
        if r.status_code != 200:
            raise Failed(f"POST {path} -> {r.status_code} {r.text[:200]}")
        return r

    def get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        r = self.http.get(path, params=params)
        if r.status_code != 200:
            raise Failed(f"GET {path} -> {r.status_code} {r.text[:200]}")
        return r

    def experiment(self, name: str) -> str:
        body = {"name": f"{name}-{self.tag}"}
        return str(self.post("/experiments/create", body).json()["experiment_id"])

    def run(self, experiment_id: str, index: int = 0) -> str:
        body = {"experiment_id": experiment_id, "start_time": data.T0 + index}
        return str(self.post("/runs/create", body).json()["run"]["info"]["run_id"])

    def history_count(self, run_id: str, key: str) -> int:
        return len(self.client.get_metric_history(run_id, key))

    # --- workloads -----------------------------------------------------------

    def run_all(self, only: set[str] | None = None) -> list[Result]:
        steps: list[tuple[str, Callable[[], object]]] = [
            ("ingest.client", lambda: self.ingest(client=True)),
            ("ingest.raw", lambda: self.ingest(client=False)),
            ("log_metric.client", lambda: self.log_metric(client=True)),
            ("log_metric.raw", lambda: self.log_metric(client=False)),
            ("concurrent.raw", self.concurrent),
            ("runs.client", self.runs_client),
            ("runs.raw", self.seed_search),  # also seeds search and paging
            ("search.raw", lambda: self.search(client=False)),
            ("search.client", lambda: self.search(client=True)),
            ("history.raw", lambda: self.history(client=False)),
            ("history.client", lambda: self.history(client=True)),
            ("paging.raw", lambda: self.paging(client=False)),
            ("paging.client", lambda: self.paging(client=True)),
            ("bigsearch.raw", self.bigsearch),
        ]
        for key, fn in steps:
            if only and key.split(".")[0] not in only and key not in only:
                continue
            if key == "bigsearch.raw" and not self.big:
                continue
            self.attempt(key, fn)
        return self.results

    def ingest(self, client: bool) -> None:
        z = self.sizes
        key = "ingest.client" if client else "ingest.raw"
        run_id = self.run(self.experiment(key))
        batches = data.metric_points(z.ingest_batches, z.batch_size)
        points = z.ingest_batches * z.batch_size
        if client:
            from mlflow.entities import Metric

            objs = [[Metric(k, v, ts, st) for k, v, ts, st in b] for b in batches]

            def work() -> dict[str, Any]:
                for b in objs:
                    self.client.log_batch(run_id, metrics=b)
                return {}
        else:
            bodies = [{"run_id": run_id, "metrics": [
                {"key": k, "value": v, "timestamp": ts, "step": st} for k, v, ts, st in b]}
                for b in batches]

            def work() -> dict[str, Any]:
                for body in bodies:
                    self.post("/runs/log-batch", body)
                return {}
        r = self.measure(key, points, work)
        got = self.history_count(run_id, "m0")
        r.ok = got == points // 10
        r.note = f"{points / r.wall:,.0f} points/s wall; m0 history {got}"

    def log_metric(self, client: bool) -> None:
        z = self.sizes
        key = "log_metric.client" if client else "log_metric.raw"
        run_id = self.run(self.experiment(key))
        n = z.log_metric_calls

        def work() -> dict[str, Any]:
            for i in range(n):
                if client:
                    self.client.log_metric(run_id, "loss", 1.0 / (i + 1), timestamp=data.T0 + i, step=i)
                else:
                    self.post("/runs/log-metric", {"run_id": run_id, "key": "loss",
                              "value": 1.0 / (i + 1), "timestamp": data.T0 + i, "step": i})
            return {}
        r = self.measure(key, n, work)
        r.ok = self.history_count(run_id, "loss") == n

    def concurrent(self) -> None:
        """``concurrent_clients`` processes logging at once, one run each (see concurrent.py)."""
        from .concurrent import log_metric_clients

        z = self.sizes
        exp = self.experiment("concurrent")
        run_ids = [self.run(exp, i) for i in range(z.concurrent_clients)]
        measured: dict[str, Result] = {}

        def measure(fn: Callable[[], dict[str, Any]]) -> None:
            measured["r"] = self.measure("concurrent.raw", z.concurrent_clients * z.concurrent_calls, fn)
        failed = log_metric_clients(self.server.url, run_ids, z.concurrent_calls, data.T0, measure)
        r = measured["r"]
        stored = sum(self.history_count(run_id, "loss") for run_id in run_ids)
        r.ok = failed == 0 and stored == r.units
        r.note = (f"{z.concurrent_clients} clients × {z.concurrent_calls} calls, {r.units / r.wall:,.0f} calls/s; "
                  f"{failed} not answered 200, {stored:,} of {r.units:,} points stored")

    def runs_client(self) -> None:
        from mlflow.entities import Metric, Param, RunTag

        exp = self.experiment("runs-client")
        seeds = data.run_seeds(self.sizes.runs, seed=1)

        def work() -> dict[str, Any]:
            for s in seeds:
                run = self.client.create_run(exp, start_time=data.T0 + s.index)
                self.client.log_batch(
                    run.info.run_id,
                    metrics=[Metric(k, v, data.T0 + s.index, 0) for k, v in s.metrics],
                    params=[Param(k, v) for k, v in s.params],
                    tags=[RunTag(k, v) for k, v in s.tags],
                )
            return {}
        self.measure("runs.client", len(seeds), work)

    def seed_search(self, measured: bool = True) -> None:
        """Create the search experiment's runs one by one over raw HTTP."""
        self.search_exp = self.experiment("search")
        self.search_seeds = data.run_seeds(self.sizes.search_runs)
        bodies = [s.raw() for s in self.search_seeds]

        def work() -> dict[str, Any]:
            for s, body in zip(self.search_seeds, bodies):
                run_id = self.run(self.search_exp, s.index)
                self.post("/runs/log-batch", {"run_id": run_id, **body})
            return {}
        if measured:
            self.measure("runs.raw", len(bodies), work)
        else:
            work()
        analyze(self.server)  # PostgreSQL: the statistics autovacuum would have (see servers.analyze)

    def need_search_seed(self) -> None:
        if not hasattr(self, "search_exp"):
            self.seed_search(measured=False)

    def _search_raw(self, exp: str, max_results: int) -> tuple[list[str], int]:
        r = self.post("/runs/search", {"experiment_ids": [exp], "filter": data.FILTER,
                                       "order_by": data.ORDER_BY, "max_results": max_results})
        runs = r.json().get("runs", [])
        return [_p0(run["data"].get("params", [])) for run in runs], len(r.content)

    def search(self, client: bool) -> None:
        key = "search.client" if client else "search.raw"
        self.need_search_seed()
        exp = self.search_exp
        expected = data.expected_hits(self.search_seeds)

        def once() -> tuple[list[str], int]:
            if not client:
                return self._search_raw(exp, 1000)
            runs = self.client.search_runs([exp], filter_string=data.FILTER,
                                           order_by=data.ORDER_BY, max_results=1000)
            return [r.data.params.get("p0", "") for r in runs], 0
        once()  # warm-up
        out: dict[str, Any] = {}

        def work() -> dict[str, Any]:
            for _ in range(self.sizes.repeats):
                out["hits"], out["size"] = once()
            return {}
        r = self.measure(key, self.sizes.repeats, work)
        r.ok = out["hits"] == expected
        r.note = f"{len(out['hits'])} hits of {len(self.search_seeds)} runs" + (
            f", {out['size'] / 1024:.0f} KB" if out["size"] else "")
        if not r.ok:
            r.note += f" (expected {len(expected)}, same set: {set(out['hits']) == set(expected)})"

    def history(self, client: bool) -> None:
        key = "history.client" if client else "history.raw"
        n = self.sizes.history_steps
        if not hasattr(self, "history_run"):
            self.history_run = self.run(self.experiment("history"))
            pts = [{"key": "h", "value": i * 0.5, "timestamp": data.T0 + i, "step": i} for i in range(n)]
            for i in range(0, n, 1000):
                self.post("/runs/log-batch", {"run_id": self.history_run, "metrics": pts[i:i + 1000]})
        run_id = self.history_run

        def once() -> tuple[int, int]:
            if client:
                return len(self.client.get_metric_history(run_id, "h")), 0
            count, size, token = 0, 0, None
            for _ in range(1000):  # pages
                params = {"run_id": run_id, "metric_key": "h"}
                if token:
                    params["page_token"] = token
                r = self.get("/metrics/get-history", params)
                body = r.json()
                count += len(body.get("metrics", []))
                size += len(r.content)
                token = body.get("next_page_token")
                if not token:
                    break
            return count, size
        once()
        out: dict[str, Any] = {}

        def work() -> dict[str, Any]:
            for _ in range(self.sizes.repeats):
                out["count"], out["size"] = once()
            return {}
        r = self.measure(key, self.sizes.repeats, work)
        r.ok = out["count"] == n
        r.note = f"{out['count']} points" + (f", {out['size'] / 1024:.0f} KB" if out["size"] else "")

    def paging(self, client: bool) -> None:
        key = "paging.client" if client else "paging.raw"
        self.need_search_seed()
        exp, size = self.search_exp, self.sizes.page_size
        limit = len(self.search_seeds) // size + 5
        out: dict[str, Any] = {}

        def work() -> dict[str, Any]:
            seen: list[str] = []
            token, pages = None, 0
            for pages in range(1, limit + 1):  # noqa: B007 (read after the loop)
                if client:
                    page = self.client.search_runs([exp], max_results=size, page_token=token)
                    seen += [r.data.params.get("p0", "") for r in page]
                    token = page.token
                else:
                    body: dict[str, Any] = {"experiment_ids": [exp], "max_results": size}
                    if token:
                        body["page_token"] = token
                    j = self.post("/runs/search", body).json()
                    seen += [_p0(run["data"].get("params", [])) for run in j.get("runs", [])]
                    token = j.get("next_page_token")
                if not token:
                    break
            out["seen"], out["pages"] = seen, pages
            return {}
        r = self.measure(key, 1, work)
        seen = out["seen"]
        r.ok = len(seen) == len(self.search_seeds) and len(set(seen)) == len(seen)
        r.note = f"{out['pages']} pages, {len(seen)} runs ({len(set(seen))} distinct)"

    def seed_rest(self, seeds: list[data.RunSeed]) -> tuple[str, str]:
        exp = self.experiment("big")

        def seed_one(s: data.RunSeed) -> None:
            run_id = self.run(exp, s.index)
            self.post("/runs/log-batch", {"run_id": run_id, **s.raw()})
        with concurrent.futures.ThreadPoolExecutor(self.sizes.seed_threads) as pool:
            for _ in pool.map(seed_one, seeds):
                pass
        return exp, f"over REST (create_run + log_batch, {self.sizes.seed_threads} threads)"

    def bigsearch(self) -> None:
        """Seed `big_runs` runs over REST (threads, not measured), then search."""
        z = self.sizes
        seeds = data.run_seeds(z.big_runs)
        t0 = time.perf_counter()
        exp, how = (self.big_seeder or self.seed_rest)(seeds)
        seeded = time.perf_counter() - t0
        analyze(self.server)  # PostgreSQL: the statistics autovacuum would have (see servers.analyze)
        print(f"    seeded {len(seeds)} runs {how} in {seeded:.0f}s", flush=True)
        expected = data.expected_hits(seeds, z.big_max_results)
        self._search_raw(exp, z.big_max_results)
        out: dict[str, Any] = {}

        def work() -> dict[str, Any]:
            for _ in range(z.repeats):
                out["hits"], out["size"] = self._search_raw(exp, z.big_max_results)
            return {}
        r = self.measure("bigsearch.raw", z.repeats, work)
        r.ok = out["hits"] == expected
        r.note = (f"{len(seeds)} runs (seeded {how}, {seeded:.0f}s), "
                  f"{len(out['hits'])} returned, {out['size'] / 1024:.0f} KB")


def _p0(params: list[dict[str, str]]) -> str:
    for p in params:
        if p["key"] == "p0":
            return p["value"]
    return ""
