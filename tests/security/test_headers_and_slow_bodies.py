"""Defect 5 of issue 13: oversize request heads and slow bodies, on ``modelyard server`` and ``modelyard serve``.

Raw sockets on 127.0.0.1: a head over 64 KB (one 8 MB header line) or with more than
100 headers is answered 431 and the connection closed, while the server's memory
stays put; a request whose body stops half way is answered 408 and closed once the
request timeout (1 s here) has passed, on the hot path, through the app, and on
``modelyard serve``. The probes of ``modelyard serve`` answer any Host, its other
paths only its own names.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..conftest import LiveServer
from ..serving.conftest import ServeProcess, register
from .raw import Conn, request, server_with

API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with server_with(tmp_path_factory.mktemp("limits"), request_body_timeout="1") as live:
        yield live


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    store = str(tmp_path_factory.mktemp("serve-limits") / "store")
    model = register(store, f"limits-{uuid.uuid4().hex[:8]}", versions=1)
    proc = ServeProcess(model.uri(), store, "--poll-interval", "0", "--no-request-log",
                        env={"MODELYARD_SERVE_REQUEST_BODY_TIMEOUT": "1"})
    proc.frame = model.frame  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        proc.stop()


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


def refused_head(target: Any, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (the server may stop reading it part way), then read its answer."""
    conn = Conn(target)
    try:
        try:
            conn.send(head)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading once it had seen enough; its answer is waiting
        answer = conn.response()
        assert conn.closed_by_server()
        return answer
    finally:
        conn.close()


def big_header(path: str, size: int) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ".encode() + b"a" * size + b"\r\n\r\n"


def many_headers(path: str, count: int) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"X-H{i}: 1\r\n" for i in range(count))
            + "\r\n").encode()


@pytest.mark.parametrize("which", ["server", "served"])
def test_an_oversize_head_gets_431_and_memory_stays_put(which, request: pytest.FixtureRequest):
    target = request.getfixturevalue(which)
    probe = "/health" if which == "server" else "/ping"
    before = rss_kb(target.proc.pid)
    for head in (big_header(probe, 8 * 1024 * 1024), big_header(f"{API}/runs/log-metric", 1024 * 1024),
                 many_headers(probe, 150)):
        status, headers, body = refused_head(target, head)
        assert status == 431 and headers["connection"] == "close"
        assert json.loads(body)["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert rss_kb(target.proc.pid) - before < 4 * 1024  # 9 MB sent; nowhere near that held
    # A head over the limit that the server reads in one piece is refused too (not only one that spans reads).
    for size in (70 * 1024, 100 * 1024):
        assert refused_head(target, big_header(probe, size))[0] == 431
    # Within the limits, heads are answered as before, on a connection that stays open.
    conn = Conn(target)
    try:
        conn.send(big_header(probe, 16 * 1024))
        assert conn.response()[0] == 200
        conn.send(many_headers(probe, 90))
        assert conn.response()[0] == 200
    finally:
        conn.close()


def half_request(target: Any, method: str, path: str, content_type: str = "application/json") -> bytes:
    """Send a head declaring 100 bytes and only 10 of them, then read until the server closes."""
    sock = socket.create_connection(("127.0.0.1", target.port), timeout=30)
    try:
        head = request(method, path, b"", content_type=content_type).replace(b"Content-Length: 0",
                                                                             b"Content-Length: 100")
        sock.sendall(head + b'{"run_id":')
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received
    finally:
        sock.close()


def test_a_body_that_stops_half_way_is_closed_on_the_server(server):
    for method, path in [("POST", f"{API}/runs/log-metric"),  # the hot path
                         ("POST", f"{API}/experiments/create"),  # a route through the app
                         ("PUT", "/api/2.0/mlflow-artifacts/artifacts/slow/x.txt")]:  # an artifact upload
        received = half_request(server, method, path)
        assert received.startswith(b"HTTP/1.1 408 "), (path, received[:200])
        assert b'"REQUEST_TIMEOUT"' in received
    # Every slow connection is gone; the server still answers.
    assert httpx.get(server.url + "/health").status_code == 200


def test_serve_closes_slow_bodies_and_guards_its_hosts(served):
    received = half_request(served, "POST", "/invocations")
    assert received.startswith(b"HTTP/1.1 408 ") and b'"REQUEST_TIMEOUT"' in received
    rows = {"dataframe_split": json.loads(served.frame.iloc[:2].to_json(orient="split"))}
    ok = httpx.post(served.url + "/invocations", json=rows)
    assert ok.status_code == 200 and len(ok.json()["predictions"]) == 2
    assert ok.headers["x-frame-options"] == "SAMEORIGIN"
    for path in ("/invocations", "/v2/models/any/infer"):
        r = httpx.post(served.url + path, json=rows, headers={"Host": "rebind.attacker.example"})
        assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED", path
    cross = httpx.post(served.url + "/invocations", content=json.dumps(rows),
                       headers={"Content-Type": "text/plain", "Origin": "http://evil.example"})
    assert cross.status_code == 403
    for probe in ("/health", "/ping", "/v2/health/live", "/v2/health/ready"):
        r = httpx.get(served.url + probe, headers={"Host": "kubelet.internal"})
        assert r.status_code == 200, probe


def test_serve_answers_the_names_of_its_own_setting(tmp_path: Path):
    """``--allowed-hosts`` (MODELYARD_SERVE_ALLOWED_HOSTS) adds names; the tracking server's setting does not."""
    store = str(tmp_path / "store")
    model = register(store, f"hosts-{uuid.uuid4().hex[:8]}", versions=1)
    proc = ServeProcess(model.uri(), store, "--poll-interval", "0", "--no-request-log",
                        env={"MODELYARD_SERVE_ALLOWED_HOSTS": "models.internal",
                             "MODELYARD_ALLOWED_HOSTS": "tracking.internal"})
    try:
        assert httpx.get(proc.url + "/version", headers={"Host": "models.internal"}).status_code == 200
        assert httpx.get(proc.url + "/version", headers={"Host": "tracking.internal"}).status_code == 403
    finally:
        proc.stop()


def test_answers_carry_the_security_headers_and_no_server_header(server):
    """The server's answers (a hot call's, an API route's, a probe's) keep the browser-facing headers
    and the date, and name no software (no ``Server`` header)."""
    hot = httpx.post(server.url + "/api/2.0/mlflow/runs/log-metric",
                     json={"run_id": "0" * 32, "key": "m", "value": 1.0, "timestamp": 1})
    assert hot.status_code == 404 and hot.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    for answer in (hot, httpx.get(server.url + "/api/2.0/mlflow/experiments/get?experiment_id=0"),
                   httpx.get(server.url + "/health")):
        assert answer.headers["x-frame-options"] == "SAMEORIGIN", answer.url
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
        assert "date" in answer.headers and "server" not in answer.headers, (answer.url, answer.headers)


@pytest.mark.parametrize("which", ["server", "served"])
def test_the_header_count_holds_for_heads_split_across_reads_and_in_one_read(which, request: pytest.FixtureRequest):
    """Reads of few lines that begin and end between requests are parsed without counting headers (the
    front's lean parser): a head that goes on in a later read is counted from its start all the same, and
    each of several heads in one read is counted on its own (no false 431 for their sum)."""
    target = request.getfixturevalue(which)
    probe = "/health" if which == "server" else "/ping"

    def send_in_two(conn: Conn, head: bytes, lines: int) -> None:
        cut = 0
        for _ in range(lines):
            cut = head.index(b"\r\n", cut) + 2
        conn.send(head[:cut])  # 60 lines: a lean read, ending inside the head
        time.sleep(0.3)  # (read apart by the server; read together, the answers are the same)
        try:
            conn.send(head[cut:])
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused already: its answer is waiting

    for count, status in ((98, 200), (150, 431)):  # with Host: 99 headers, within the limit; 151, over it
        conn = Conn(target)
        try:
            send_in_two(conn, many_headers(probe, count), 60)
            assert conn.response()[0] == status
            if status == 200:  # and the connection reads the next requests as ever, each in one read
                for per in (10, 98):
                    conn.send(many_headers(probe, per))
                    assert conn.response()[0] == 200
        finally:
            conn.close()
    conn = Conn(target)
    try:
        for per in (30, 60):  # two heads in one read: 66 lines (a lean read), then 126 (counted)
            conn.send(many_headers(probe, per) * 2)
            assert [conn.response()[0], conn.response()[0]] == [200, 200]
    finally:
        conn.close()


def test_each_request_is_read_whole_after_one_that_spanned_reads():
    """A request that began in a lean read and went on in the next (its body) is read on by the counting parser;
    the next requests, each in one read, are read from their start (by a new lean parser), not as the rest of
    that body: each is seen to begin and end, its head counted among the arrivals."""
    import asyncio

    from modelyard.web.http_limits import ARRIVALS, LimitedConnection

    async def reads() -> list[tuple[int, bool]]:
        front = LimitedConnection(asyncio.Protocol(), 60.0)
        body = b"x" * 300
        before = ARRIVALS.heads
        front.data_received(b"POST /x HTTP/1.1\r\nhost: a\r\ncontent-length: 300\r\n\r\n" + body[:10])
        front.data_received(body[10:])
        seen = [(ARRIVALS.heads - before, front.in_message)]  # its head read by both parsers, counted once
        for head in (b"GET /y HTTP/1.1\r\nhost: a\r\n\r\n", many_headers("/z", 98), b"GET /y HTTP/1.1\r\nhost: a\r\n\r\n"):
            before = ARRIVALS.heads
            front.data_received(head)
            seen.append((ARRIVALS.heads - before, front.in_message or front.answered))
        front.connection_lost(None)
        return seen

    assert asyncio.run(reads()) == [(1, False), (1, False), (1, False), (1, False)]
