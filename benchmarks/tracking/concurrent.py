"""Several clients logging at once: each in its own process, on its own keep-alive connection.

Training jobs log to one tracking server side by side. Each client here sends
pre-built ``log-metric`` requests over a raw socket (one at a time, waiting for
each answer), so the clients' own CPU stays small next to the server's and the
figure is the server's: calls per second and server CPU per call while
``clients`` connections write at once. Every answer is checked (non-200s are
counted), and every point is read back afterwards.
"""

from __future__ import annotations

import json
import multiprocessing
import socket
from typing import Any


def _request(host: str, path: str, body: dict[str, Any]) -> bytes:
    raw = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\n\r\n")
    return head.encode() + raw


def _answer(sock: socket.socket, buf: bytearray) -> int:
    """Read one whole response from ``sock`` (``buf`` keeps what arrived beyond it); its status."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buf += chunk
    end = buf.index(b"\r\n\r\n") + 4
    head = bytes(buf[:end]).decode("latin-1").lower()
    length = 0
    for line in head.split("\r\n"):
        if line.startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    while len(buf) < end + length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buf += chunk
    status = int(head.split(" ", 2)[1])
    del buf[: end + length]
    return status


def _client(address: tuple[str, int], requests: list[bytes], start: Any, out: Any) -> None:
    sock = socket.create_connection(address, timeout=600)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray()
    failed = 0
    start.wait()
    for r in requests:
        sock.sendall(r)
        failed += _answer(sock, buf) != 200
    sock.close()
    out.put(failed)


def log_metric_clients(url: str, run_ids: list[str], calls: int, t0: int,
                       measure: Any) -> int:
    """``len(run_ids)`` clients, client i logging ``calls`` points to run i; ``measure(fn)``
    brackets the part where they all write. Returns how many calls were not answered 200."""
    host_port = url.split("://", 1)[1].rstrip("/")
    host, port = host_port.rsplit(":", 1)
    path = "/api/2.0/mlflow/runs/log-metric"
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = []
    for run_id in run_ids:
        reqs = [_request(host_port, path, {"run_id": run_id, "key": "loss", "value": 1.0 / (i + 1),
                                           "timestamp": t0 + i, "step": i}) for i in range(calls)]
        procs.append(ctx.Process(target=_client, args=((host, int(port)), reqs, start, out), daemon=True))
    for p in procs:
        p.start()
    failed = 0

    def work() -> dict[str, Any]:
        nonlocal failed
        start.set()
        failed = sum(out.get(timeout=900) for _ in procs)
        return {}
    try:
        measure(work)
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    return failed
