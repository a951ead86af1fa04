"""The chart board in Chromium: 10 panels over 100 selected runs with 1,000-step histories, in an
experiment of 100,000 runs, against a real ``modelyard server``.

    python -m benchmarks.ui_charts                  # 100,000 runs, SQLite in a temp folder
    python -m benchmarks.ui_charts --runs 20000 --repeat 5
    python -m benchmarks.ui_charts --reuse /tmp/modelyard-bench-charts-XXXX   # re-time an earlier store

The experiment is seeded as ``benchmarks.ui`` seeds it (100,000 runs with params, 2 metrics, a tag);
then 100 of its runs get 10 more metrics of 1,000 steps each (1,000,000 points), and finish, and the board a
layout of 10 line panels, one per metric. Each sample opens the board in a fresh Chromium page and
stops the clock when the last panel has drawn its chart (``performance.now()`` since the
navigation started): the HTML, one request for the 10 panels' downsampled histories
(``/ui/histories``, 320 points per run), and uPlot drawing 100 series per panel. The first opening
after the server starts is timed apart ("cold": the server reads and samples the million points);
later ones find the finished runs' sampled histories in the server's cache. Also timed alone: the
histories request for one panel and for all 10, cold (cache emptied) and warm; and the runs
table of the 100,000 runs in Chromium (first page, grouped by a param, 250 rows).

No MLflow side: MLflow's chart view is a React app that mlflow-skinny does not ship.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

from modelyard.api.schemas_charts import ChartBoardLayout, ChartPanel
from modelyard.entities import Metric
from modelyard.service import TrackingService
from modelyard.settings import Settings

from .ui import seed

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
PANELS, RUNS, STEPS = 10, 100, 1000


def add_histories(svc: TrackingService, experiment_id: str) -> list[str]:
    """1,000-step histories of 10 metrics for 100 runs spread over the experiment; their ids."""
    found = svc.runs.search([experiment_id], None, max_results=RUNS * 10, order_by=["attributes.start_time DESC"])
    runs = [r.info.run_id for r in found.items[:: max(1, len(found.items) // RUNS)]][:RUNS]
    t0 = int(time.time() * 1000)
    for n, rid in enumerate(runs):
        for k in range(PANELS):
            metrics = [Metric(f"train/loss_{k}", (1 + n % 7) / (s + 1) + 0.01 * k, t0 + s * 100, s) for s in range(STEPS)]
            svc.runs.log_batch(rid, metrics=metrics)
    finish(svc, runs)
    svc.charts.set(experiment_id, ChartBoardLayout(
        panels=[ChartPanel(type="line", metric=f"train/loss_{k}") for k in range(PANELS)]), None)
    return runs


def finish(svc: TrackingService, runs: list[str]) -> None:
    """The charted runs are finished, as the runs a board compares mostly are."""
    for rid in runs:
        if svc.runs.get(rid).info.status == "RUNNING":
            svc.runs.update(rid, status="FINISHED", end_time=int(time.time() * 1000))


def start_server(folder: str) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(os.path.join(folder, "server.log"), "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "-m", "modelyard.cli", "server", "--backend-store-uri",
                             f"sqlite:///{folder}/bench.db", "--artifacts-destination", f"{folder}/artifacts",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the server did not start; see {folder}/server.log")


def cpu_ms(pid: int) -> float:
    """User + system CPU time of a process so far (load on the machine stretches wall time, not this)."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return (times.user + times.system) * 1000


def time_board(url: str, experiment_id: str, runs: list[str], repeat: int,
               server_pid: int) -> tuple[list[float], list[float], float, float]:
    from playwright.sync_api import sync_playwright

    board = f"{url}/experiments/{experiment_id}/charts?" + "&".join(f"run={r}" for r in runs)
    samples: list[float] = []
    cpu: list[float] = []
    phases: list[list[float]] = []
    cold = cold_cpu = 0.0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for i in range(repeat + 1):  # the first opens the caches (server and browser), not counted
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            page = context.new_page()
            before = cpu_ms(server_pid)
            page.goto(board, wait_until="commit")
            done = page.wait_for_function(
                f"() => document.querySelectorAll('#panels .plot[data-drawn=\"1\"] canvas').length === {PANELS}"
                " && performance.now()", timeout=60_000, polling="raf")
            ms = float(done.json_value())
            series = page.eval_on_selector_all("#panels .plot", "els => els.map(e => +e.dataset.series)")
            assert series == [RUNS] * PANELS, series
            if not i:
                cold, cold_cpu = ms, cpu_ms(server_pid) - before
            if i:
                samples.append(ms)
                cpu.append(cpu_ms(server_pid) - before)
                timing = page.evaluate("""() => {
                    const nav = performance.getEntriesByType('navigation')[0];
                    const series = performance.getEntriesByType('resource').filter(e => e.name.includes('/ui/histories'));
                    return [nav.responseEnd, nav.domContentLoadedEventEnd,
                            Math.min(...series.map(e => e.startTime)), Math.max(...series.map(e => e.responseEnd))];
                }""")
                phases.append(timing)
            context.close()
        browser.close()
    for name, i in (("page received", 0), ("DOM ready", 1), ("first history asked", 2), ("last history received", 3)):
        print(f"  {name}: {statistics.median(p[i] for p in phases):.0f} ms", flush=True)
    return samples, cpu, cold, cold_cpu


def time_runs_pages(url: str, experiment_id: str, repeat: int) -> list[tuple[str, list[float]]]:
    """The runs table of the 100,000-run experiment in Chromium: navigation to the load event
    (HTML, styles and scripts in), each sample in a fresh browser context."""
    from playwright.sync_api import sync_playwright

    pages = [("runs page: first page (50 runs)", ""), ("runs page: grouped by a param (params.model)", "?groupby=params:model"),
             ("runs page: 250 rows", "?n=250")]
    out = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for label, query in pages:
            samples = []
            for i in range(repeat + 1):
                context = browser.new_context(viewport={"width": 1440, "height": 900})
                page = context.new_page()
                page.goto(f"{url}/experiments/{experiment_id}{query}", wait_until="load")
                assert page.locator("table.runs tbody tr").count() >= 50
                if i:
                    samples.append(float(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")))
                context.close()
            out.append((label, samples))
        browser.close()
    return out


def time_histories(url: str, runs: list[str], keys: int, repeat: int, cold: bool) -> list[float]:
    """The histories request of ``keys`` panels; ``cold``: each sample asks for other points per run
    (``max``), so that the server's cache cannot answer."""
    samples = []
    with httpx.Client(base_url=url, timeout=120) as http:
        for i in range(repeat + (0 if cold else 1)):
            points = 320 - i - 1 if cold else 320
            params = [*[("key", f"train/loss_{k}") for k in range(keys)], *[("run", r) for r in runs],
                      ("max", str(points)), ("times", "0")]
            start = time.perf_counter()
            resp = http.get("/ui/histories", params=params)
            if cold or i:
                samples.append((time.perf_counter() - start) * 1000)
            body = resp.json()
            assert len(body["metrics"]) == keys
            assert all(len(body["metrics"][k]) == RUNS for k in body["metrics"])
            assert all(len(r["steps"]) == points for k in body["metrics"] for r in body["metrics"][k])
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", metavar="FOLDER", help="time the board over a store seeded by an earlier run")
    args = parser.parse_args()
    folder = args.reuse or tempfile.mkdtemp(prefix="modelyard-bench-charts-")
    settings = Settings(backend_store_uri=f"sqlite:///{folder}/bench.db", artifacts_destination=f"{folder}/artifacts",
                        serve_artifacts=True, sqlite_synchronous="NORMAL", background_workers=False)
    svc = TrackingService(settings)
    start = time.perf_counter()
    found = svc.experiments.get_by_name("bench-ui") if args.reuse else None
    if found is None:
        exp = seed(svc, args.runs)
        runs = add_histories(svc, exp)
    else:
        exp = found.experiment_id
        runs = [r.info.run_id for r in svc.runs.search([exp], "metrics.`train/loss_0` >= 0", max_results=RUNS).items]
        finish(svc, runs)
    total = svc.runs.search([exp], None, max_results=1).items
    print(f"store ready in {time.perf_counter() - start:.0f} s ({folder}); {len(runs)} runs charted", flush=True)
    svc.close()
    assert total and len(runs) == RUNS
    proc, url = start_server(folder)
    try:
        board, cpu, cold, cold_cpu = time_board(url, exp, runs, args.repeat, proc.pid)
        tables = time_runs_pages(url, exp, args.repeat)
        rows = [(f"{what} histories ({n} metric{'s' if n > 1 else ''} x 100 runs x 1,000 steps -> 320 points each)",
                 time_histories(url, runs, n, args.repeat, what == "cold"))
                for n in (1, PANELS) for what in ("cold", "warm")]
    finally:
        proc.terminate()
        proc.wait(30)
    print("\n| what | median ms | best ms | samples |\n|---|---:|---:|---:|")
    for what, series in rows:
        print(f"| /ui/histories, {what} | {statistics.median(series):.0f} | {min(series):.0f} | {len(series)} |")
    print(f"| chart board in Chromium, first opening after the server started (cold) | {cold:.0f} | {cold:.0f} | 1 |")
    print(f"| server CPU of that first opening | {cold_cpu:.0f} | {cold_cpu:.0f} | 1 |")
    print(f"| chart board in Chromium: 10 panels x 100 runs, navigation to the last chart drawn | "
          f"{statistics.median(board):.0f} | {min(board):.0f} | {len(board)} |")
    print(f"| server CPU per board opened (page, static files, one histories request) | "
          f"{statistics.median(cpu):.0f} | {min(cpu):.0f} | {len(cpu)} |")
    for label, samples in tables:
        print(f"| {label}, in Chromium, navigation to load | {statistics.median(samples):.0f} | {min(samples):.0f} | "
              f"{len(samples)} |")
    print(f"\nload average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
