"""Command line: start each server in turn, run the workloads, print the table.

With --backend postgresql every server gets a fresh database, and the harness
runs ANALYZE on it after each seeding (the search runs, the big experiment),
outside the measured spans: a deployed database has the statistics autovacuum
gathers, while one filled seconds ago has none and PostgreSQL plans blind.
"""

from __future__ import annotations

import argparse
import datetime
import json
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

from . import report, sdk, servers
from .workloads import Bench, Result, Sizes

GROUPS = ["ingest", "log_metric", "concurrent", "runs", "search", "history", "paging", "bigsearch", "sdk"]


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.tracking", description=__doc__)
    p.add_argument("--only", default="mlflow,fml,modelyard,modelyard-normal",
                   help="servers to run, in order (default: %(default)s). 'modelyard' is the default "
                        "synchronous=FULL; 'modelyard-normal' is the same server with "
                        "MODELYARD_SQLITE_SYNCHRONOUS=NORMAL (SQLite only, skipped on PostgreSQL)")
    p.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite",
                   help="store of every server; postgresql: a fresh database each, ANALYZEd after "
                        "each seeding (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    p.add_argument("--workloads", default=",".join(GROUPS),
                   help=f"workload groups or keys (default: all of {','.join(GROUPS)})")
    p.add_argument("--big", action="store_true",
                   help="also seed and search the big experiment on mlflow and fml (slow: "
                        "runs are created over REST); modelyard always gets it")
    p.add_argument("--big-all-variants", action="store_true",
                   help="big search on every modelyard variant (default: only the first one run; "
                        "it is a read, the durability setting does not change it)")
    p.add_argument("--big-rest", action="store_true",
                   help="seed modelyard's big experiment over REST like the peers, not with its embedded SDK")
    p.add_argument("--big-runs", type=int, help="runs in the big experiment (default 100,000; quick 5,000)")
    p.add_argument("--repeats", type=int,
                   help="timed repetitions of each read after one warm-up (default 5; quick 3): CPU is read in "
                        "10 ms clock ticks, so a 15 ms search wants 20 or more")
    p.add_argument("--sdk-points", type=int, help="points for the modelyard SDK ingest (default 1M)")
    p.add_argument("--sdk-batch", type=int, help="points per SDK log_batch call (default 100,000)")
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                   help="maintenance database used to CREATE/DROP the fresh databases")
    p.add_argument("--rounds", type=int, default=1,
                   help="run every server this many times, alternating, each round on fresh stores; a row is the "
                        "round with the median server CPU (its note lists every round's): single runs of the "
                        "small-call rows move by 20-50%% on a shared machine")
    p.add_argument("--json", type=Path, help="also write raw results as JSON here")
    p.add_argument("--keep", action="store_true", help="keep the temp stores and server logs")
    p.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                   help="run nothing: print the tables from --json files of earlier runs; a later "
                        "file's rows replace an earlier one's (per server and workload), e.g. a "
                        "re-run of a noisy row")
    return p.parse_args(argv)


def merged(paths: list[Path]) -> tuple[dict[str, dict[str, Result]], Sizes, str]:
    """Results of several --json files, later rows winning; sizes and backend of the first."""
    results: dict[str, dict[str, Result]] = {}
    sizes, backend = Sizes(), "sqlite"
    for i, path in enumerate(paths):
        doc = json.loads(path.read_text())
        if i == 0:
            sizes = Sizes(**doc["meta"]["sizes"])
            backend = doc["meta"]["backend"]
        elif doc["meta"]["backend"] != backend:
            raise SystemExit(f"{path}: backend {doc['meta']['backend']} != {backend}")
        for server, rows in doc["results"].items():
            for key, row in rows.items():
                results.setdefault(server, {})[key] = Result(**row)
    return results, sizes, backend


def sizes_from(args: argparse.Namespace) -> Sizes:
    z = Sizes.quick() if args.quick else Sizes()
    for name in ("big_runs", "sdk_points", "sdk_batch", "repeats"):
        if getattr(args, name) is not None:
            setattr(z, name, getattr(args, name))
    return z


def run_server(name: str, args: argparse.Namespace, z: Sizes, only: set[str], base: Path,
               big_done: set[str]) -> dict[str, Result]:
    spec = servers.SPECS[name]
    workdir = base / name
    results: dict[str, Result] = {}
    mine = spec.kind == "modelyard"
    big = _wants(only, "bigsearch.raw") and (
        args.big if not mine else (args.big_all_variants or "modelyard" not in big_done))
    with servers.launch(spec, args.backend, workdir, args.pg_url) as server:
        print(f"  {name} healthy at {server.url} after {server.startup_s:.1f}s; "
              f"idle CPU {server.idle_cpu_per_s * 1000:.0f} ms/s", flush=True)
        seeder = None
        if mine and not args.big_rest:
            seeder = lambda seeds: sdk.seed_runs(server.store_uri, seeds)
        bench = Bench(server, z, big=big, big_seeder=seeder)
        try:
            for r in bench.run_all(only):
                results[r.key] = r
        finally:
            bench.close()
        if big and "bigsearch.raw" in results:
            big_done.add(spec.kind or name)
        if mine and _wants(only, "sdk.http"):
            _attempt(results, "sdk.http", lambda: sdk.ingest("sdk.http", server.url, z.sdk_points, z.sdk_batch, server))
    if mine and _wants(only, "sdk.embedded"):
        # An embedded store folder (SQLite in WAL + artifacts), with the variant's durability setting.
        uri = str(workdir / "embedded")
        env = {servers.SYNC_ENV: spec.env().get(servers.SYNC_ENV, "FULL")}
        _attempt(results, "sdk.embedded", lambda: sdk.ingest("sdk.embedded", uri, z.sdk_points, z.sdk_batch, env=env))
    return results


def median_rows(rounds: list[dict[str, Result]]) -> dict[str, Result]:
    """Per workload, the round's result with the median server CPU (+ database CPU; the lower of the middle two
    for an even count), its note naming every round's CPU; a workload that failed in every round keeps its failure."""
    out: dict[str, Result] = {}
    for key in dict.fromkeys(k for r in rounds for k in r):
        rows = [r[key] for r in rounds if key in r]
        good = sorted((row for row in rows if row.error is None), key=lambda row: row.cpu + row.db_cpu)
        if not good:
            out[key] = rows[0]
            continue
        chosen = good[(len(good) - 1) // 2]
        if len(rows) > 1:
            each = ", ".join(f"{row.cpu + row.db_cpu:.2f}" for row in rows if row.error is None)
            chosen.note = f"{chosen.note}; server CPU by round: {each} s (median kept)".lstrip("; ")
        out[key] = chosen
    return out


def _commit() -> str:
    """The modelyard checkout under test: git commit (+dirty) of the tree the servers import."""
    import subprocess

    repo = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
                              check=False, capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "modelyard"],
                               check=False, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"at {repo} (no git)"
    if not head:
        return f"at {repo} (not a git checkout)"
    return f"{head}{' + uncommitted changes under modelyard/' if dirty else ''} at {repo}"


def _wants(only: set[str], key: str) -> bool:
    return not only or key in only or key.split(".")[0] in only


def _attempt(results: dict[str, Result], key: str, fn) -> None:  # type: ignore[no-untyped-def]
    try:
        results[key] = fn()
    except Exception as e:  # noqa: BLE001
        msg = f"{type(e).__name__}: {e}"[:300]
        print(f"    {key:<18} FAILED {msg}", flush=True)
        results[key] = Result(key, 0.0, 0.0, 0, "point", error=msg)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.merge:
        results, z, backend = merged(args.merge)
        print(report.table(results, z, backend) + "\n\n" + report.ratios(results)
              + "\n\n" + report.targets(results, backend, z))
        return 0
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
    commit = _commit()
    print(f"benchmark: servers {names}, backend {args.backend}, "
          f"{'quick' if args.quick else 'full'} sizes, stores under {base}; modelyard {commit}", flush=True)
    big_done: set[str] = set()
    load: list[tuple[float, ...]] = [os.getloadavg()]
    by_round: dict[str, list[dict[str, Result]]] = {}
    rounds = max(1, args.rounds)
    try:
        for r in range(rounds):
            for name in names:
                if args.backend not in servers.SPECS[name].backends:
                    if r == 0:
                        print(f"\n== {name}: not run on {args.backend}", flush=True)
                    continue
                which = f", round {r + 1} of {rounds}" if rounds > 1 else ""
                print(f"\n== {name}{which}  (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})",
                      flush=True)
                try:
                    where = base / f"round-{r + 1}" if rounds > 1 else base
                    by_round.setdefault(name, []).append(run_server(name, args, z, only, where, big_done))
                    load.append(os.getloadavg())
                except servers.Unavailable as e:
                    print(f"  skipped: {e}", flush=True)
                except (RuntimeError, TimeoutError) as e:
                    print(f"  {name} failed: {e}", flush=True)
    finally:
        if not args.keep:
            servers.clean(base)
    all_results = {name: median_rows(results) for name, results in by_round.items()}
    load.append(os.getloadavg())
    one_min = [x[0] for x in load]
    print(f"\n== results ({args.backend}, {'quick' if args.quick else 'full'}; "
          f"{time.time() - started:.0f}s in all; 1-min load average at start/after each server: "
          f"{', '.join(f'{x:.1f}' for x in one_min)})\n")
    if all_results:
        print(report.table(all_results, z, args.backend))
        print()
        print(report.ratios(all_results))
        print()
        print(report.targets(all_results, args.backend, z))
    if args.json:
        meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "argv": sys.argv,
                "backend": args.backend, "sizes": vars(z), "python": platform.python_version(),
                "cpus": os.cpu_count(), "loadavg": load, "commit": commit, "rounds": rounds}
        report.dump(args.json, all_results, meta)
    return 0
