"""The trace page of a 32,000-span trace in headless Chromium, from request to rendered span tree.

    python -m benchmarks.trace_page                  # 32,000 spans, SQLite, 7 loads
    python -m benchmarks.trace_page --spans 100000 --repeat 3

Benchmark only, not CI. The trace (a root, chains of a hundred steps, every tenth step with a child,
each span with inputs, outputs and a model attribute, about 600 bytes) is stored through the
embedded service into a fresh SQLite file; a real ``modelyard server`` serves it; Debian's Chromium
(Playwright) opens ``/traces/<id>`` in one tab, from ``about:blank`` each time. Timed from ``page.goto`` until the
tree's rows are drawn and the browser has painted them (two animation frames after the script marks
the tree ready), plus the navigation's own timing (server answer, DOMContentLoaded). The span tree
is virtualised: only the rows in view are in the DOM, printed as ``rows in DOM``.

MLflow 3.17's UI is not in mlflow-skinny (no web bundle), so there is no browser side by side; its
``traces/get`` of the same trace (what its UI waits for) is in ``RESULTS-traces.md``: 41 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

from modelyard.entities.traces import Span, format_timestamp
from modelyard.service import TrackingService
from modelyard.settings import Settings

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
TRACE = 0xBEEF


def spans(n: int, t0_ns: int) -> list[Span]:
    def one(span_id: int, parent: int | None, name: str, start: int, dur: int, kind: str) -> Span:
        return Span(f"tr-{TRACE:032x}", f"{span_id:016x}", None if parent is None else f"{parent:016x}", name, kind,
                    "OK", None, start, start + dur,
                    {"mlflow.spanInputs": json.dumps({"question": f"what is step {span_id}?", "k": 3}),
                     "mlflow.spanOutputs": json.dumps(f"answer {span_id} " * 8), "model": "tiny-1"},
                    otel_trace_id=f"{TRACE:032x}")

    out = [one(1, None, "agent", t0_ns, n * 10_000, "AGENT")]
    next_id, chain = 2, 0
    while next_id <= n:
        chain_id = next_id
        out.append(one(chain_id, 1, f"chain-{chain}", t0_ns + next_id * 10_000, 1_000_000, "CHAIN"))
        next_id += 1
        for step in range(99):
            if next_id > n:
                break
            parent = chain_id if step % 10 else next_id - 1
            out.append(one(next_id, parent, f"step-{chain}-{step}", t0_ns + next_id * 10_000, 8_000,
                           "LLM" if step % 2 else "TOOL"))
            next_id += 1
        chain += 1
    return out


def seed(folder: str, n: int) -> tuple[str, str]:
    db = f"sqlite:///{folder}/bench.db"
    svc = TrackingService(Settings(backend_store_uri=db, artifacts_destination=f"{folder}/artifacts",
                                   serve_artifacts=True, background_workers=False))
    exp = svc.experiments.create("bench-trace-page")
    t0 = int(time.time() * 1000) - 60_000
    info = {"trace_id": f"tr-{TRACE:032x}", "request_time": format_timestamp(t0), "execution_duration": "0.320s",
            "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}},
            "state": "OK", "tags": {"mlflow.traceName": "agent"}}
    all_spans = spans(n, t0 * 1_000_000)
    for i in range(0, len(all_spans), 2000):
        svc.traces.log_traces(exp, all_spans[i:i + 2000], [info] if i == 0 else [])
    svc.close()
    return db, f"{folder}/artifacts"


def serve(db: str, artifacts: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "modelyard.cli", "server", "--backend-store-uri", db,
                             "--artifacts-destination", artifacts, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not come up")


def main() -> None:
    from playwright.sync_api import sync_playwright

    from benchmarks.tracking.cpu import settled_cpu, tree_cpu
    from benchmarks.tracking.servers import free_port

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=32_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="modelyard-bench-trace-page-")
    start = time.perf_counter()
    db, artifacts = seed(folder, args.spans)
    print(f"{args.spans:,} spans stored in {time.perf_counter() - start:.1f} s ({folder})")
    port = free_port()
    proc = serve(db, artifacts, port)
    url = f"http://127.0.0.1:{port}/traces/tr-{TRACE:032x}"
    try:
        size = len(httpx.get(url, timeout=60).content)
        rows: dict[str, list[float]] = {"to painted tree": [], "server answer (responseEnd)": [],
                                        "DOMContentLoaded": [], "server CPU": [], "browser CPU (Chromium + driver)": []}
        in_dom = 0
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            page = context.new_page()  # one tab, as a user's browser: each load navigates it afresh
            for i in range(args.repeat + 1):
                page.goto("about:blank")
                server0 = settled_cpu([proc.pid])
                everything0 = tree_cpu(os.getpid())
                own0 = time.process_time()
                t0 = time.perf_counter()
                page.goto(url, wait_until="commit")
                page.wait_for_selector("#span-tree[data-ready]")
                page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                wall = (time.perf_counter() - t0) * 1000
                nav = page.evaluate("() => performance.getEntriesByType('navigation')[0].toJSON()")
                in_dom = page.locator("#span-tree .span-row").count()
                ready = page.locator("#span-tree").get_attribute("data-ready")
                assert ready == str(args.spans), ready
                server_cpu = settled_cpu([proc.pid]) - server0
                browser_cpu = tree_cpu(os.getpid()) - everything0 - server_cpu - (time.process_time() - own0)
                if i == 0:
                    continue  # the first load warms Chromium's and the server's caches
                rows["server CPU"].append(server_cpu * 1000)
                rows["browser CPU (Chromium + driver)"].append(browser_cpu * 1000)
                rows["to painted tree"].append(wall)
                rows["server answer (responseEnd)"].append(nav["responseEnd"])
                rows["DOMContentLoaded"].append(nav["domContentLoadedEventEnd"])
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"\nTrace page of {args.spans:,} spans: {size / 1e6:.2f} MB of HTML, {in_dom} rows in DOM, "
          f"{args.repeat} loads in Chromium")
    print("\n| step | median ms | best ms |\n|---|---:|---:|")
    for label, samples in rows.items():
        print(f"| {label} | {statistics.median(samples):.0f} | {min(samples):.0f} |")
    target = statistics.median(rows["to painted tree"])
    print(f"\ntarget ≤ 1,000 ms from request to rendered page: {'met' if target <= 1000 else 'NOT met'} "
          f"({target:.0f} ms median)")
    os.environ.get("KEEP") or subprocess.run(["rm", "-rf", folder], check=False)


if __name__ == "__main__":
    main()
