"""Searches of the big experiment with selective and unselective filters, in process.

    python -m benchmarks.tracking.selective --store sqlite:////tmp/big.db [--runs 100000] [--repeats 20]

Seeds ``--runs`` runs (the bigsearch data, ``data.run_seeds``) with the embedded SDK into
``--store`` unless it holds them already, then times ``TrackingService.search_dicts`` (CPU:
``time.process_time``; the SQL runs in this process on SQLite, while on PostgreSQL the
server's CPU is not counted, so wall time is printed too) for each filter, ordered by
``metrics.m0 DESC`` with 1,000 results a page. A PostgreSQL store is ANALYZEd after
seeding, as a deployed one would be by autovacuum.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from . import data, sdk

SEARCHES = [
    ("params.p1 = 'zzz' (no hit)", "params.p1 = 'zzz'", ["metrics.m0 DESC"]),
    ("params.p0 = 'r000123' (one hit)", "params.p0 = 'r000123'", ["metrics.m0 DESC"]),
    ("standard filter", data.FILTER, data.ORDER_BY),
    ("standard filter, order by param", data.FILTER, ["params.p2 ASC"]),
    ("p1 = 'a' and p0 = 'r000123'", "params.p1 = 'a' and params.p0 = 'r000123'", ["metrics.m0 DESC"]),
    ("metrics.m1 > 0.9999", "metrics.m1 > 0.9999", ["metrics.m0 DESC"]),
]


def _service(uri: str) -> Any:
    from modelyard.service import TrackingService
    from modelyard.settings import Settings

    return TrackingService(Settings(backend_store_uri=uri, serve_artifacts=False))


def _seeded(svc: Any, runs: int) -> str | None:
    for e in svc.experiments.search(max_results=1000).items:
        if e.name.startswith("big-"):
            page = svc.runs.search_dicts([e.experiment_id], max_results=1, order_by=["attributes.start_time ASC"])
            first = page.items[0]["info"]["start_time"] if page.items else None
            if first == data.T0:
                return str(e.experiment_id)
    return None


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", required=True, help="store URI (sqlite:///path or postgresql://...)")
    p.add_argument("--runs", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--max-results", type=int, default=1000)
    args = p.parse_args(argv)

    svc = _service(args.store)
    exp = _seeded(svc, args.runs)
    if exp is None:
        svc.close()
        t0 = time.perf_counter()
        exp, _ = sdk.seed_runs(args.store, data.run_seeds(args.runs))
        print(f"seeded {args.runs} runs in {time.perf_counter() - t0:.0f}s", flush=True)
        svc = _service(args.store)
        if args.store.startswith("postgresql"):
            import psycopg

            with psycopg.connect(args.store, autocommit=True) as conn:
                conn.execute("ANALYZE")
    print(f"experiment {exp}; {args.repeats} repeats; ms per search (CPU min / median, wall median)")
    try:
        for label, filt, order in SEARCHES:
            def search(filt: str = filt, order: list[str] = order) -> Any:
                return svc.runs.search_dicts([exp], filt, max_results=args.max_results, order_by=order)
            n = len(search().items)
            cpu, wall = [], []
            for _ in range(args.repeats):
                c0, w0 = time.process_time(), time.perf_counter()
                search()
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - w0)
            print(f"  {label:36s} {n:5d} runs  cpu {min(cpu) * 1000:7.1f} / {statistics.median(cpu) * 1000:7.1f}"
                  f"  wall {statistics.median(wall) * 1000:7.1f}", flush=True)
    finally:
        svc.close()


if __name__ == "__main__":
    main()
