"""Command line: start each server in turn, run the workloads, print the table."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path

# Before mlflow is imported: fail fast instead of retrying with back-off.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "600")

from . import report, sdk, servers  # noqa: E402
from .workloads import Bench, Result, Sizes  # noqa: E402

GROUPS = ["ingest", "log_metric", "runs", "search", "history", "paging", "bigsearch", "sdk"]


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.tracking", description=__doc__)
    p.add_argument("--only", default="mlflow,fml,modelyard",
                   help="servers to run, in order (default: %(default)s)")
    p.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    p.add_argument("--workloads", default=",".join(GROUPS),
                   help=f"workload groups or keys (default: all of {','.join(GROUPS)})")
    p.add_argument("--big", action="store_true",
                   help="also seed and search the big experiment on mlflow and fml (slow: "
                        "runs are created over REST); modelyard always gets it")
    p.add_argument("--big-rest", action="store_true",
                   help="seed modelyard's big experiment over REST like the peers, not with its embedded SDK")
    p.add_argument("--big-runs", type=int, help="runs in the big experiment (default 100,000; quick 5,000)")
    p.add_argument("--sdk-points", type=int, help="points for the modelyard SDK ingest (default 1M)")
    p.add_argument("--sdk-batch", type=int, help="points per SDK log_batch call (default 100,000)")
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                   help="maintenance database used to CREATE/DROP the fresh databases")
    p.add_argument("--json", type=Path, help="also write raw results as JSON here")
    p.add_argument("--keep", action="store_true", help="keep the temp stores and server logs")
    return p.parse_args(argv)


def sizes_from(args: argparse.Namespace) -> Sizes:
    z = Sizes.quick() if args.quick else Sizes()
    for name in ("big_runs", "sdk_points", "sdk_batch"):
        if getattr(args, name) is not None:
            setattr(z, name, getattr(args, name))
    return z


def run_server(name: str, args: argparse.Namespace, z: Sizes, only: set[str], base: Path) -> dict[str, Result]:
    spec = servers.SPECS[name]
    workdir = base / name
    results: dict[str, Result] = {}
    big = "bigsearch" in only and (args.big or name == "modelyard")
    with servers.launch(spec, args.backend, workdir, args.pg_url) as server:
        print(f"  {name} healthy at {server.url} after {server.startup_s:.1f}s; "
              f"idle CPU {server.idle_cpu_per_s * 1000:.0f} ms/s", flush=True)
        seeder = None
        if name == "modelyard" and not args.big_rest:
            seeder = lambda seeds: sdk.seed_runs(server.store_uri, seeds)  # noqa: E731
        bench = Bench(server, z, big=big, big_seeder=seeder)
        try:
            for r in bench.run_all(only):
                results[r.key] = r
        finally:
            bench.close()
        if name == "modelyard" and "sdk" in only:
            _attempt(results, "sdk.http", lambda: sdk.ingest("sdk.http", server.url, z.sdk_points, z.sdk_batch, server))
    if name == "modelyard" and "sdk" in only:
        uri = str(workdir / "embedded")  # an embedded store folder (SQLite in WAL + artifacts)
        _attempt(results, "sdk.embedded", lambda: sdk.ingest("sdk.embedded", uri, z.sdk_points, z.sdk_batch))
    return results


def _attempt(results: dict[str, Result], key: str, fn) -> None:  # type: ignore[no-untyped-def]
    try:
        results[key] = fn()
    except Exception as e:  # noqa: BLE001
        msg = f"{type(e).__name__}: {e}"[:300]
        print(f"    {key:<18} FAILED {msg}", flush=True)
        results[key] = Result(key, 0.0, 0.0, 0, "point", error=msg)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    z = sizes_from(args)
    only = {w.strip() for w in args.workloads.split(",") if w.strip()}
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in servers.SPECS]
    if unknown:
        print(f"unknown server(s): {unknown}; choose from {list(servers.SPECS)}", file=sys.stderr)
        return 2
    # SIGTERM ends the run like Ctrl-C, so every server is stopped in `finally`.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    base = Path(tempfile.mkdtemp(prefix="modelyard-bench-"))
    started = time.time()
    print(f"benchmark: servers {names}, backend {args.backend}, "
          f"{'quick' if args.quick else 'full'} sizes, stores under {base}", flush=True)
    all_results: dict[str, dict[str, Result]] = {}
    try:
        for name in names:
            print(f"\n== {name}", flush=True)
            try:
                all_results[name] = run_server(name, args, z, only, base)
            except servers.Unavailable as e:
                print(f"  skipped: {e}", flush=True)
            except (RuntimeError, TimeoutError) as e:
                print(f"  {name} failed: {e}", flush=True)
    finally:
        if not args.keep:
            servers.clean(base)
    print(f"\n== results ({args.backend}, {'quick' if args.quick else 'full'}; "
          f"{time.time() - started:.0f}s in all)\n")
    if all_results:
        print(report.table(all_results, z, args.backend))
    if args.json:
        meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "argv": sys.argv,
                "backend": args.backend, "sizes": vars(z), "python": platform.python_version(),
                "cpus": os.cpu_count()}
        report.dump(args.json, all_results, meta)
    return 0
