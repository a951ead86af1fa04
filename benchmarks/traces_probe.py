"""The official mlflow client's tracing requests replayed through the whole app in process (no socket).

For instruction counts (valgrind ``callgrind``: independent of the machine's load) of what the
server does per span and per trace, middleware, hot path, service and store included, uvicorn and
the fsync not (SQLite on ``/dev/shm``, ``synchronous=NORMAL``)::

    python -m benchmarks.traces_probe capture            # once: the client's requests -> /tmp/traces_probe.pkl
    python -m benchmarks.traces_probe run 100 both       # CPU per trace of 100 traces (otlp | info | both | batch)
    python -m benchmarks.traces_probe count              # instructions per request kind, under callgrind
    python -m benchmarks.traces_probe count --checkout /work/main --keep /tmp/cg   # another checkout's

``capture`` traces one three-span chain with ``@mlflow.trace`` (as ``benchmarks.traces``'s client
workload) against the app under uvicorn and keeps its requests: three OTLP posts of one span each
and the trace info (``POST /api/3.0/mlflow/traces``); the client sends nothing else per trace.
``run`` replays them with a new trace id each time (ids from a fixed seed): ``otlp`` the span posts
only, ``info`` the trace info only (a trace no span made), ``both`` all four, ``batch`` OTLP
requests of 1,000 spans (100 traces of 10, as ``benchmarks.traces``'s otlp workload).

``run ... --pages`` prints the pages each kind of request's commit wrote to the WAL, by the table or index
they belong to (at most ~12 traces: the WAL restarts after 1,000 pages); ``run ... --profile FILE``
cProfiles the replayed calls.

``count`` runs each mode in a process of its own under ``valgrind --tool=callgrind
--instr-atstart=no``; the process switches instrumentation on after a warm-up (``callgrind_control
-i on``) and off after its calls, so the figure is the user-space instructions of those calls. With
``--checkout`` the app is that checkout's (its code first on ``sys.path``); the replayed requests and
this harness are this one's, so two checkouts are counted on the same requests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SHAPES = "/tmp/traces_probe.pkl"
Request = tuple[str, str, list[tuple[bytes, bytes]], bytes]
BATCH_TRACES, BATCH_SPANS = 100, 10  # a batch request: 100 traces of 10 spans
UNITS = {"otlp": 3, "info": 0, "both": 3}  # spans per trace of each mode (batch: per request, the above)


def _app(folder: str) -> Any:
    from modelyard.server.app import create_app
    from modelyard.settings import Settings

    return create_app(Settings(backend_store_uri=f"sqlite:///{folder}/db.sqlite", default_artifact_root=f"{folder}/art",
                               sqlite_synchronous="NORMAL", background_workers=False))


def capture() -> None:
    import uvicorn

    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    app = _app(tempfile.mkdtemp())
    captured: list[Request] = []
    seen: list[str] = []

    async def keep(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append(f"{scope['method']} {scope['path']}")
        if scope["type"] != "http" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        captured.append((scope["method"], scope["path"], list(scope["headers"]), body))
        given = False

        async def again() -> Any:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await app(scope, again, send)

    server = uvicorn.Server(uvicorn.Config(keep, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    from benchmarks.traces import traced_chain

    chain = traced_chain(f"http://127.0.0.1:{port}", "probe")
    chain("warm-up")
    captured.clear()
    seen.clear()
    chain("question 1")
    server.should_exit = True
    thread.join()
    with open(SHAPES, "wb") as f:
        pickle.dump(captured, f)
    print("every request of one trace:", ", ".join(seen))
    for method, path, _, body in captured:
        print(method, path, len(body), "bytes")


async def _call(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
             "raw_path": path.encode(), "root_path": "", "scheme": "http", "query_string": b"",
             "headers": headers, "client": ("127.0.0.1", 1234), "server": ("127.0.0.1", 5000)}
    given = False

    async def receive() -> Any:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)

    out: list[Any] = []

    async def send(message: Any) -> None:
        out.append(message)

    await app(scope, receive, send)
    if out[0]["status"] != 200:
        raise SystemExit(f"{path}: {out[0]['status']} {out[1].get('body')!r}")


def _batch(rng: random.Random, t0: int) -> bytes:
    """One OTLP request of BATCH_TRACES traces of BATCH_SPANS spans, as the tracing benchmark's, reproducible."""
    from benchmarks.traces import otlp_batch

    return otlp_batch([rng.randbytes(16) for _ in range(BATCH_TRACES)], BATCH_SPANS, t0, rng.randbytes)


def _wal_pages(db: str, requests: int, kinds: list[str]) -> None:
    """Print the pages each commit since the WAL was last truncated wrote, by the table or index they belong to.

    Each commit writes every page it changed to the WAL once (a frame: the page whole, 4 KiB, and a checksum),
    which is most of what a commit costs."""
    import sqlite3
    from collections import Counter

    wal = Path(db + "-wal").read_bytes()
    size = int.from_bytes(wal[8:12], "big")
    conn = sqlite3.connect(db)
    owner = dict((pageno, name) for name, pageno in conn.execute("SELECT name, pageno FROM dbstat"))
    conn.close()
    commits: list[Counter[str]] = [Counter()]
    for at in range(32, len(wal) - size - 23, size + 24):
        if wal[at + 8:at + 16] != wal[16:24]:  # a frame of the WAL before it restarted (after a checkpoint)
            break
        commits[-1][owner.get(int.from_bytes(wal[at:at + 4], "big"), "?")] += 1
        if int.from_bytes(wal[at + 4:at + 8], "big"):  # the commit's last frame
            commits.append(Counter())
    commits.pop()
    if len(commits) != requests:
        raise SystemExit(f"{len(commits)} commits in the WAL for {requests} requests: it restarted (1,000 pages);"
                         " count fewer traces")
    by_kind: dict[str, Counter[str]] = {kind: Counter() for kind in kinds}
    for i, c in enumerate(commits):  # the requests of a trace commit in turn
        by_kind[kinds[i % len(kinds)]].update(c)
    print(f"{len(commits)} commits for {requests} requests")
    for kind, total in by_kind.items():
        n = requests / len(kinds)
        print(f"{kind}: {sum(total.values()) / n:.1f} pages a request:")
        for name, pages in total.most_common():
            print(f"  {pages / n:5.2f}  {name}")


def run(traces: int, mode: str, toggle: bool = False, profile: str | None = None, pages: bool = False) -> None:
    """``traces`` traces (``batch``: requests) of ``mode`` after a warm-up; with ``toggle``, under callgrind
    with its instrumentation on for them only; with ``profile``, under cProfile (its stats to that file)."""
    import cProfile

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from modelyard.server import hotpath

    # Under valgrind a call takes some 50 times as long: without this the hot path would find its calls
    # slow and send them through the writer's thread, which a real server does only on a slow disk.
    hotpath.INLINE_SLOW_SECONDS = float("inf")
    with open(SHAPES, "rb") as f:
        shapes: list[Request] = pickle.load(f)
    first = ExportTraceServiceRequest()
    first.ParseFromString(next(body for _, path, _, body in shapes if path == "/v1/traces"))
    old_raw = first.resource_spans[0].scope_spans[0].spans[0].trace_id
    old_hex = old_raw.hex().encode()
    otlp_headers = next(headers for _, path, headers, _ in shapes if path == "/v1/traces")
    folder = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    app = _app(folder)
    rng = random.Random(18)

    async def trace(exp: bytes) -> None:
        raw = rng.randbytes(16)
        for method, path, headers, body in shapes:
            if (mode == "otlp" and path != "/v1/traces") or (mode == "info" and path == "/v1/traces"):
                continue
            body = body.replace(old_raw, raw).replace(old_hex, raw.hex().encode())
            if path == "/v1/traces":
                headers = [(k, exp if k == b"x-mlflow-experiment-id" else v) for k, v in headers]
            else:
                body = body.replace(b'"experiment_id": "1"', b'"experiment_id": "' + exp + b'"')
            await _call(app, method, path, [(b"host", b"127.0.0.1:5000"), *headers], body)

    async def main() -> None:
        async with app.router.lifespan_context(app):
            exp = str(app.state.service.experiments.create("probe")).encode()
            if mode == "batch":
                headers = [(b"host", b"127.0.0.1:5000"),
                           *((k, exp if k == b"x-mlflow-experiment-id" else v) for k, v in otlp_headers
                             if k != b"content-length")]
                bodies = [_batch(rng, 1_796_000_000_000_000_000 + i * 10_000_000) for i in range(3 + traces)]
                for body in bodies[:3]:
                    await _call(app, "POST", "/v1/traces", [*headers, (b"content-length", str(len(body)).encode())], body)
            else:
                for _ in range(20):
                    await trace(exp)
            if toggle:
                subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True)
            if pages:
                import sqlite3

                with sqlite3.connect(f"{folder}/db.sqlite") as conn:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            profiler = cProfile.Profile() if profile else None
            if profiler:
                profiler.enable()
            started = time.process_time()
            if mode == "batch":
                for body in bodies[3:]:
                    await _call(app, "POST", "/v1/traces", [*headers, (b"content-length", str(len(body)).encode())], body)
            else:
                for _ in range(traces):
                    await trace(exp)
            took = time.process_time() - started
            if profiler:
                profiler.disable()
                profiler.dump_stats(str(profile))
            if toggle:
                subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], check=True, capture_output=True)
            if pages:
                kinds = ([f"{path} #{i}" for i, (_, path, _, _) in enumerate(shapes)
                          if mode == "both" or (mode == "otlp") == (path == "/v1/traces")]
                         if mode != "batch" else ["batch"])
                _wal_pages(f"{folder}/db.sqlite", traces * len(kinds), kinds)
            print(f"{mode}: {took / traces * 1e6:.0f} us of CPU per {'request' if mode == 'batch' else 'trace'}"
                  f" ({traces})")

    try:
        asyncio.run(main())
    finally:
        app.hot.close()
        app.state.service.close()


def count(mode: str, calls: int, out: Path, checkout: Path | None) -> float:
    """Instructions per trace (``batch``: per request) of ``mode``, from a run under callgrind writing ``out``."""
    env = dict(os.environ)
    root = checkout or Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = str(root)
    argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
            sys.executable, str(Path(__file__).resolve()), "probe", str(calls), mode]
    subprocess.run(argv, check=True, capture_output=True, env=env)
    totals = re.search(rb"^totals: (\d+)", out.read_bytes(), re.M)
    if totals is None:
        raise RuntimeError(f"no totals in {out}")
    return int(totals.group(1)) / calls


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("capture", "run", "probe", "count"))
    parser.add_argument("calls", nargs="?", type=int, default=100, help="traces (batch: requests)")
    parser.add_argument("mode", nargs="?", default="both", choices=("otlp", "info", "both", "batch"))
    parser.add_argument("--modes", default="otlp,both,info,batch", help="count: the modes, comma-separated")
    parser.add_argument("--batch-calls", type=int, default=5, help="count: requests of 1,000 spans")
    parser.add_argument("--checkout", type=Path, help="count: the app of this checkout")
    parser.add_argument("--profile", help="run: cProfile the counted calls, stats to this file")
    parser.add_argument("--pages", action="store_true", help="run: the pages each request's commit wrote")
    parser.add_argument("--keep", type=Path, help="count: keep the callgrind files here (callgrind_annotate them)")
    args = parser.parse_args(argv)
    if args.command == "capture":
        capture()
    elif args.command in ("run", "probe"):
        if args.command == "probe" and args.calls:  # the process under valgrind: this checkout's harness, its app
            sys.path[0] = os.environ["PYTHONPATH"]  # not benchmarks/, the script's folder
        run(args.calls, args.mode, toggle=args.command == "probe", profile=args.profile, pages=args.pages)
    else:
        folder = args.keep or Path(tempfile.mkdtemp(prefix="traces-probe-"))
        folder.mkdir(parents=True, exist_ok=True)
        print(f"checkout: {args.checkout or 'this one'}\n\n| mode | instructions per trace/request | per span |"
              "\n|---|---:|---:|")
        for mode in args.modes.split(","):
            calls = args.batch_calls if mode == "batch" else args.calls
            per = count(mode, calls, folder / f"callgrind.{mode}", args.checkout)
            spans = BATCH_TRACES * BATCH_SPANS if mode == "batch" else UNITS[mode]
            print(f"| {mode} | {per:,.0f} | {per / spans:,.0f} |" if spans else f"| {mode} | {per:,.0f} | |",
                  flush=True)


if __name__ == "__main__":
    main()
