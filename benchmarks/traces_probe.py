"""The official mlflow client's tracing requests replayed through the whole app in process (no socket).

For instruction counts (valgrind ``callgrind``: independent of the machine's load) of what the
server does per span and per trace, middleware, hot path, service and store included, uvicorn and
the fsync not (SQLite on ``/dev/shm``, ``synchronous=NORMAL``)::

    python -m benchmarks.traces_probe capture            # once: the client's requests -> /tmp/traces_probe.pkl
    python -m benchmarks.traces_probe run 100 both       # CPU per trace of 100 traces (otlp | info | both)
    PROBE_SYNC=1 valgrind --tool=callgrind --instr-atstart=no python -m benchmarks.traces_probe run 100 both &
    # when /tmp/traces_probe.ready exists: callgrind_control -i on PID; touch /tmp/traces_probe.go;
    # when /tmp/traces_probe.done exists: callgrind_control -i off PID; touch /tmp/traces_probe.stop

``capture`` traces one three-span chain with ``@mlflow.trace`` (as ``benchmarks.traces``'s client
workload) against the app under uvicorn and keeps its requests: three OTLP posts of one span each
and the trace info. ``run`` replays them with a new trace id each time (ids from a fixed seed).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import random
import sys
import tempfile
import threading
import time
from typing import Any

SHAPES = "/tmp/traces_probe.pkl"
SIGNALS = "/tmp/traces_probe"
Request = tuple[str, str, list[tuple[bytes, bytes]], bytes]


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

    async def keep(scope: Any, receive: Any, send: Any) -> None:
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
    from .traces import traced_chain

    chain = traced_chain(f"http://127.0.0.1:{port}", "probe")
    chain("warm-up")
    captured.clear()
    chain("question 1")
    server.should_exit = True
    thread.join()
    with open(SHAPES, "wb") as f:
        pickle.dump(captured, f)
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


def _wait_for(name: str) -> None:
    while not os.path.exists(f"{SIGNALS}.{name}"):
        time.sleep(0.05)


def run(traces: int, mode: str) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    with open(SHAPES, "rb") as f:
        shapes: list[Request] = pickle.load(f)
    first = ExportTraceServiceRequest()
    first.ParseFromString(next(body for _, path, _, body in shapes if path == "/v1/traces"))
    old_raw = first.resource_spans[0].scope_spans[0].spans[0].trace_id
    old_hex = old_raw.hex().encode()
    app = _app(tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    rng = random.Random(18)
    sync = bool(os.environ.get("PROBE_SYNC"))

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
            for _ in range(20):
                await trace(exp)
            if sync:
                open(f"{SIGNALS}.ready", "w").close()
                _wait_for("go")
            started = time.process_time()
            for _ in range(traces):
                await trace(exp)
            took = time.process_time() - started
            if sync:
                open(f"{SIGNALS}.done", "w").close()
                _wait_for("stop")
            print(f"{mode}: {took / traces * 1e6:.0f} us of CPU per trace ({traces} traces)")

    asyncio.run(main())


if __name__ == "__main__":
    if sys.argv[1:2] == ["capture"]:
        capture()
    else:
        run(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "both")
