"""Where the big search's server time goes, phase by phase, in process.

    python -m benchmarks.tracking.bigphases --store sqlite:////tmp/big.db [--repeats 20] [--search standard]

Seeds the bigsearch experiment (100,000 runs, ``data.run_seeds``) into ``--store`` unless
it holds it already (as ``benchmarks.tracking.selective`` does), then times, CPU per query
(``time.process_time``, min and median of ``--repeats``; on PostgreSQL the database's own
CPU is not counted, so wall medians are printed too):

- ``page sql``: the store's page query (walk decision + ``run_search_sql`` + fetch);
- ``children``: ``RunWire.build`` of that page (params, tags, metrics, inputs, outputs);
- ``encode``: msgspec JSON of ``{"runs": [...]}`` as the route answers it;
- ``service``: ``TrackingService.runs.search_dicts`` whole;
- ``asgi``: the Starlette app called in process with the benchmark's request body
  (routing, decode, thread hop, service, encode, response);
- ``client json``: ``json.loads`` of the body, the benchmark client's share.

The body's size and a hash of it are printed, so two commits can be compared for
identical output.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from . import data, sdk
from .layers import asgi_layer
from .selective import _seeded, _service

SEARCHES = {
    "standard": (data.FILTER, data.ORDER_BY),
    "by-param": (data.FILTER, ["params.p2 ASC"]),
    "no-filter": ("", data.ORDER_BY),
}


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float, float]:
    fn()
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return min(cpu) * 1e3, statistics.median(cpu) * 1e3, statistics.median(wall) * 1e3


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", required=True, help="store URI (sqlite:///path or postgresql://...)")
    p.add_argument("--runs", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--max-results", type=int, default=1000)
    p.add_argument("--search", default="standard", choices=sorted(SEARCHES))
    args = p.parse_args(argv)

    import msgspec

    from modelyard.server.app import create_app
    from modelyard.service.search import parse_run_filter, parse_run_order_by
    from modelyard.store.search import run_search_sql

    svc = _service(args.store)
    exp = _seeded(svc, args.runs)
    if exp is None:
        svc.close()
        exp, _ = sdk.seed_runs(args.store, data.run_seeds(args.runs))
        svc = _service(args.store)
        if args.store.startswith("postgresql"):
            import psycopg

            with psycopg.connect(args.store, autocommit=True) as conn:
                conn.execute("ANALYZE")
    filt, order_by = SEARCHES[args.search]
    store = svc.store.runs
    filters, order = parse_run_filter(filt), parse_run_order_by(order_by)
    need = args.max_results + 1
    encoder = msgspec.json.Encoder()

    def page_rows() -> list[Any]:
        with store.db.fast_read() as tx:
            walk = store._walk_sort_index(tx, [int(exp)], order, need, filters)
            sql, params = run_search_sql([int(exp)], ("active",), filters, order, need, 0, store.db.dialect,
                                         walk_sort_index=walk)
            return tx.all(sql, params)

    rows = page_rows()

    def children() -> list[dict[str, Any]]:
        with store.db.fast_read() as tx:
            return store.wire.build(tx, rows, True)

    runs = children()[: args.max_results]

    def service() -> Any:
        return svc.runs.search_dicts([exp], filt, max_results=args.max_results, order_by=order_by)

    body = json.dumps({"experiment_ids": [exp], "filter": filt, "order_by": order_by,
                       "max_results": args.max_results}).encode()
    app = create_app(service=svc)
    asgi = asgi_layer(app, [("POST", "/api/2.0/mlflow/runs/search", body, "")])
    out = encoder.encode({"runs": runs})
    phases: list[tuple[str, Callable[[], Any]]] = [
        ("page sql", page_rows), ("children", children), ("encode", lambda: encoder.encode({"runs": runs})),
        ("service", service), ("asgi", asgi), ("client json", lambda: json.loads(out)),
    ]
    print(f"experiment {exp}, search {args.search!r}: {len(runs)} runs, {len(out) / 1024:.0f} KB, "
          f"sha256 {hashlib.sha256(out).hexdigest()[:16]}; ms per query (CPU min / median, wall median)")
    try:
        for name, fn in phases:
            c_min, c_med, w_med = _timed(fn, args.repeats)
            print(f"  {name:12s} cpu {c_min:7.1f} / {c_med:7.1f}  wall {w_med:7.1f}", flush=True)
    finally:
        asyncio.set_event_loop(None)
        svc.close()


if __name__ == "__main__":
    main()
