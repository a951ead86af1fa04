"""Server-side timing of the web UI's runs table over an experiment with 100,000 runs.

    python -m benchmarks.ui                 # 100,000 runs, SQLite in a temp folder
    python -m benchmarks.ui --runs 20000 --repeat 5
    python -m benchmarks.ui --reuse /tmp/modelyard-bench-ui-XXXX   # re-time an earlier store

The store is seeded through the embedded service in batches (each run: 3 params,
2 metrics, 1 tag; one run in 10 is nested under an earlier one). Pages are
rendered by the real app in process (Starlette TestClient, no socket), so the
numbers are query + template time, without network or browser.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time

from starlette.testclient import TestClient

from modelyard.entities import Metric, Param, RunTag
from modelyard.server import create_app
from modelyard.service import TrackingService
from modelyard.settings import Settings


def seed(svc: TrackingService, n: int) -> str:
    rng = random.Random(0)
    exp = svc.experiments.create("bench-ui")
    t0 = int(time.time() * 1000) - n * 1000
    parents: list[str] = []
    for i in range(n):
        tags = {"team": rng.choice(("growth", "risk", "search"))}
        if parents and i % 10 == 9:
            tags["mlflow.parentRunId"] = rng.choice(parents[-50:])
        run = svc.runs.create(exp, start_time=t0 + i * 1000, run_name=f"run-{i:06d}", user_id="bench", tags=tags)
        rid = run.info.run_id
        if "mlflow.parentRunId" not in tags:
            parents.append(rid)
        svc.runs.log_batch(
            rid,
            metrics=[Metric("rmse", rng.random(), t0, 0), Metric("accuracy", rng.random(), t0, 0)],
            params=[Param("model", rng.choice(("tree", "linear", "forest"))), Param("lr", str(rng.choice((0.1, 0.01)))),
                    Param("depth", str(rng.randint(2, 12)))],
            tags=[RunTag("mlflow.source.name", "train.py")],
        )
        if i and i % 10_000 == 0:
            print(f"  seeded {i:,} runs", flush=True)
    return exp


def timed(client: TestClient, url: str, repeat: int) -> tuple[float, float, int]:
    samples = []
    status = 0
    for _ in range(repeat):
        start = time.perf_counter()
        r = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        status = r.status_code
    return statistics.median(samples), min(samples), status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--reuse", metavar="FOLDER", help="time pages over a store seeded by an earlier run")
    args = parser.parse_args()
    folder = args.reuse or tempfile.mkdtemp(prefix="modelyard-bench-ui-")
    settings = Settings(backend_store_uri=f"sqlite:///{folder}/bench.db", artifacts_destination=f"{folder}/artifacts",
                        serve_artifacts=True, sqlite_synchronous="NORMAL", background_workers=False)
    svc = TrackingService(settings)
    start = time.perf_counter()
    found = svc.experiments.get_by_name("bench-ui") if args.reuse else None
    exp = found.experiment_id if found else seed(svc, args.runs)
    print(f"store ready in {time.perf_counter() - start:.0f} s ({folder})")
    filt = "metrics.rmse < 0.2 AND params.model = 'tree'"
    pages = [
        ("first page (50 runs, newest first)", f"/experiments/{exp}"),
        ("sorted by a metric", f"/experiments/{exp}?order=metrics.rmse+ASC"),
        ("filtered + sorted", f"/experiments/{exp}?q={filt}&order=metrics.rmse+ASC"),
        ("filtered + sorted, 250 rows", f"/experiments/{exp}?q={filt}&order=metrics.rmse+ASC&n=250"),
        ("grouped (nested runs under parents)", f"/experiments/{exp}?group=1"),
        ("page 1,000 (offset 49,950)", None),
    ]
    with TestClient(create_app(service=svc)) as client:
        from modelyard.service.search import encode_page_token

        pages[-1] = (pages[-1][0], f"/experiments/{exp}?page_token={encode_page_token(49_950)}")
        client.get(f"/experiments/{exp}")  # warm the caches once
        print("\n| page | median ms | best ms | status |\n|---|---:|---:|---:|")
        for label, url in pages:
            median, best, status = timed(client, url or "", args.repeat)
            print(f"| {label} | {median:.1f} | {best:.1f} | {status} |")
    svc.close()


if __name__ == "__main__":
    main()
