"""Instructions per call of the WHOLE ``modelyard server`` (uvicorn, its protocol, the middleware, the hot path,
the service and the store) under valgrind's callgrind, driven over a socket: independent of the machine's load.

    python -m benchmarks.tracking.server_instructions [--calls 300] [--shape NAME ...] \\
        [--checkout base=../base --checkout new=.] [--env NAME=VALUE ...]

For each checkout (default: this one) and shape, a real ``modelyard server`` (one worker, SQLite on
``/dev/shm`` at ``synchronous=FULL``, the default) runs under ``valgrind --tool=callgrind
--instr-atstart=no``. A client in this process (a plain keep-alive socket, so the client's own work
is not what is counted) sends the shape's requests with the headers the real clients send
(:mod:`.instructions`'s shapes: httpx's raw POST and mlflow 3.17.2's ``MlflowClient``), waits for
each answer, and after a warm-up switches the server's instrumentation on (``callgrind_control -i
on``) for ``--calls`` calls. The figure is the server's user-space instructions (every thread) of
those calls divided by their number; the fsync and the socket's kernel work are not counted. The
server's background workers are off (they poll the store now and then) and what its timers cost
meanwhile (uvicorn's tick, ten times a second: about 0.2 M instructions a second under valgrind,
where a call takes some 30 ms) is measured alone for a few seconds after the calls
(``callgrind_control -d`` between the two) and taken off, so the figure does not depend on how
fast the machine ran the calls. It reproduces to about 0.1% between runs of one checkout.

``trace`` replays the official MLflow tracing client's requests for one trace of three spans (three
OTLP posts of one span each and the trace info, captured with ``python -m benchmarks.traces_probe
capture``; a new trace id each time): the figure is per trace. ``otlp_batch`` posts the tracing benchmark's
OTLP requests of 1,000 spans (100 traces of 10, ``benchmarks.traces.otlp_batch``, seeded ids), 5 as the
warm-up: the figure is per request (per 1,000 spans).

Under valgrind a call takes some 50 times as long, so the server is started with the hot path's
"slow disk" threshold off (:data:`modelyard.server.hotpath.INLINE_SLOW_SECONDS`): a real server on
a sound disk answers a lone call on the event loop, and so does this one.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from . import data
from .instructions import API, FRESH_RUNS, RAW_HEADERS, SHAPES
from .servers import free_port

TRACE_CAPTURE = Path(tempfile.gettempdir()) / "traces_probe.pkl"  # benchmarks.traces_probe's capture
ALL_SHAPES = [*SHAPES, "trace", "otlp_batch"]
WARM = {"otlp_batch": 5}  # warm-up calls of a shape (default 50)
IDLE_SECONDS = 3.0
# The server's entry point: the CLI's, with the hot path's slow-disk pause off (see the module's docstring).
SERVE = ("import sys; from modelyard.server import hotpath; hotpath.INLINE_SLOW_SECONDS = float('inf'); "
         "from modelyard.cli import main; sys.exit(main())")

Request = tuple[str, str, list[tuple[bytes, bytes]], bytes]


class Connection:
    """One keep-alive HTTP/1.1 connection on a plain socket."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def call(self, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, bytes]:
        head = [f"{method} {path} HTTP/1.1".encode()]
        head += [name + b": " + value for name, value in headers if name != b"content-length"]
        head.append(b"content-length: %d" % len(body))
        self.sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        while b"\r\n\r\n" not in self.buffer:
            self._read()
        raw_head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status = int(raw_head.split(b" ", 2)[1])
        found = re.search(rb"(?im)^content-length:\s*(\d+)", raw_head)
        length = int(found.group(1)) if found else 0
        while len(self.buffer) < length:
            self._read()
        answer, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, answer

    def _read(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


def _requests(conn: Connection, shape: str, count: int) -> Iterator[Request]:
    """The ``count`` requests of ``shape`` (one a call; four a trace), on an experiment and runs made first."""
    status, answer = conn.call("POST", API + "/experiments/create", RAW_HEADERS,
                               json.dumps({"name": f"instr-{time.monotonic_ns()}"}).encode())
    assert status == 200, answer
    exp = json.loads(answer)["experiment_id"]
    if shape == "trace":
        yield from _trace_requests(exp, count)
        return
    if shape == "otlp_batch":
        yield from _otlp_batch_requests(exp, count)
        return
    path, headers, body = SHAPES[shape]

    def new_run() -> str:
        status, answer = conn.call("POST", API + "/runs/create", RAW_HEADERS,
                                   json.dumps({"experiment_id": exp, "start_time": data.T0}).encode())
        assert status == 200, answer
        return str(json.loads(answer)["run"]["info"]["run_id"])

    run = new_run()
    for i in range(count):
        yield "POST", API + path, headers, body(i, new_run() if shape in FRESH_RUNS else run, exp)


def _trace_requests(exp: str, count: int) -> Iterator[Request]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    if not TRACE_CAPTURE.exists():
        raise SystemExit(f"no {TRACE_CAPTURE}: run `python -m benchmarks.traces_probe capture` first")
    with open(TRACE_CAPTURE, "rb") as f:
        shapes: list[Request] = pickle.load(f)
    first = ExportTraceServiceRequest()
    first.ParseFromString(next(body for _, path, _, body in shapes if path == "/v1/traces"))
    old_raw = first.resource_spans[0].scope_spans[0].spans[0].trace_id
    old_exp = dict(shapes[0][2]).get(b"x-mlflow-experiment-id", b"")
    rng = random.Random(18)
    for _ in range(count):
        raw = rng.randbytes(16)
        for method, path, headers, body in shapes:
            body = body.replace(old_raw, raw).replace(old_raw.hex().encode(), raw.hex().encode())
            if old_exp:
                body = body.replace(b'"experiment_id": "%s"' % old_exp, b'"experiment_id": "%s"' % exp.encode())
                headers = [(n, exp.encode() if n == b"x-mlflow-experiment-id" else v) for n, v in headers]
            yield method, path, headers, body


def _otlp_batch_requests(exp: str, count: int) -> Iterator[Request]:
    from benchmarks.traces import otlp_batch

    rng = random.Random(18)
    headers = [(b"host", b"127.0.0.1:5000"), (b"content-type", b"application/x-protobuf"),
               (b"x-mlflow-experiment-id", exp.encode())]
    for i in range(count):
        body = otlp_batch([rng.randbytes(16) for _ in range(100)], 10, 1_796_000_000_000_000_000 + i * 10_000_000,
                          rng.randbytes)
        yield "POST", "/v1/traces", headers, body


def _server(checkout: Path, folder: Path, port: int, out: Path, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
            sys.executable, "-c", SERVE, "server", "--backend-store-uri", f"sqlite:///{folder / 'db.sqlite'}",
            "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1"]
    env = {**os.environ, "PYTHONPATH": str(checkout), "MODELYARD_SQLITE_SYNCHRONOUS": "FULL",
           "MODELYARD_BACKGROUND_WORKERS": "false", **extra_env}
    log = open(folder / "server.log", "wb")  # noqa: SIM115  (the server's, closed with it)
    return subprocess.Popen(argv, cwd=folder, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, start_new_session=True)


def _wait_up(proc: subprocess.Popen[bytes], port: int, timeout: float = 300.0) -> Connection:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode})")
        try:
            conn = Connection(port)
        except OSError:
            time.sleep(0.5)
            continue
        if conn.call("GET", "/health", [(b"host", b"127.0.0.1")], b"")[0] == 200:
            return conn
        conn.close()
    raise RuntimeError("the server did not start")


def count(checkout: Path, shape: str, calls: int, out: Path, warm: int = 50,
          env: dict[str, str] | None = None) -> float:
    """Instructions per call (per trace for ``trace``) of ``shape`` on the server of ``checkout``
    (``env``: more environment variables for the server)."""
    folder = Path(tempfile.mkdtemp(prefix="srv-instr-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    port = free_port()
    proc = _server(checkout, folder, port, out, env or {})
    try:
        conn = _wait_up(proc, port)
        requests = list(_requests(conn, shape, warm + calls))
        per = len(requests) // (warm + calls)
        for method, path, headers, body in requests[: warm * per]:
            status, answer = conn.call(method, path, headers, body)
            assert status == 200, answer
        # Each window from the middle of the command that opens it to the middle of the one that ends it.
        began = _control(proc, "-i", "on")
        statuses = [conn.call(*request)[0] for request in requests[warm * per:]]
        ended = _control(proc, "-d")  # the calls (and the timers meanwhile): out.1
        time.sleep(IDLE_SECONDS)
        idle_ended = _control(proc, "-d")  # the timers alone: out.2
        _control(proc, "-i", "off")
        assert set(statuses) == {200}, statuses
        conn.close()
    finally:
        proc.terminate()
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)
    calls_and_timers, idle = _totals(Path(f"{out}.1")), _totals(Path(f"{out}.2"))
    return (calls_and_timers - idle * (ended - began) / (idle_ended - ended)) / calls


def _control(proc: subprocess.Popen[bytes], *args: str) -> float:
    """Run ``callgrind_control ARGS PID``; the clock half way through (when valgrind took it, about)."""
    before = time.monotonic()
    subprocess.run(["callgrind_control", *args, str(proc.pid)], check=True, capture_output=True)
    return (before + time.monotonic()) / 2


def _totals(path: Path) -> int:
    totals = re.search(rb"^totals: (\d+)", path.read_bytes(), re.M)
    if totals is None:
        raise RuntimeError(f"no totals in {path}")
    return int(totals.group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--shape", action="append", choices=ALL_SHAPES, help="default: every shape but trace")
    parser.add_argument("--checkout", action="append", default=[], metavar="NAME=PATH",
                        help="a checkout whose server is measured (default: this one)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the servers (MODELYARD_INLINE_SMALL_REQUESTS=false...)")
    parser.add_argument("--keep", help="keep the callgrind files in this folder (callgrind_annotate them)")
    args = parser.parse_args(argv)
    checkouts = [(name, Path(path).resolve()) for name, _, path in (c.partition("=") for c in args.checkout)] or [
        ("this", Path(__file__).resolve().parents[2])]
    folder = Path(args.keep or tempfile.mkdtemp(prefix="server-instructions-"))
    folder.mkdir(parents=True, exist_ok=True)
    names = [name for name, _ in checkouts]
    print(f"| shape | {' | '.join(names)} |" + (" change |" if len(names) == 2 else ""))
    print("|---|" + "---:|" * (len(names) + (len(names) == 2)))
    for shape in args.shape or list(SHAPES):
        env = dict(item.split("=", 1) for item in args.env)
        figures = [count(path, shape, args.calls, folder / f"callgrind.{name}.{shape}", warm=WARM.get(shape, 50),
                         env=env)
                   for name, path in checkouts]
        change = f" {100 * (figures[1] / figures[0] - 1):+.1f}% |" if len(figures) == 2 else ""
        print(f"| {shape} | " + " | ".join(f"{f:,.0f}" for f in figures) + " |" + change, flush=True)


if __name__ == "__main__":
    main()
