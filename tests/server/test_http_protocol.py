"""The server's HTTP front (uvicorn behind ``web/http_limits.py``) and the hot calls (``server/hotpath.py``)
over real sockets to a real server.

These tests speak raw HTTP/1.1 so they control what a client library would hide:
keep-alive, pipelining, chunked bodies, bodies split across segments, early closes
and oversize bodies.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ..conftest import LiveServer, fresh_database

API = "/api/2.0/mlflow"
REQUEST_LIMIT = 4096


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per database for the module (every test makes its own run), with a small body limit."""
    folder = tmp_path_factory.mktemp(f"proto-{request.param}")
    with fresh_database(request.param, folder) as uri:
        previous = os.environ.get("MODELYARD_MAX_REQUEST_BYTES")
        os.environ["MODELYARD_MAX_REQUEST_BYTES"] = str(REQUEST_LIMIT)
        try:
            live = LiveServer(uri, str(folder / "artifacts"))
        finally:
            if previous is None:
                del os.environ["MODELYARD_MAX_REQUEST_BYTES"]
            else:
                os.environ["MODELYARD_MAX_REQUEST_BYTES"] = previous
        live.db_uri = uri  # type: ignore[attr-defined]
        try:
            yield live
        finally:
            live.stop()


class Conn:
    """One raw keep-alive connection: write bytes, read whole responses in order."""

    def __init__(self, server: LiveServer) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
        self.reader = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        status_line = self.reader.readline()
        assert status_line.startswith(b"HTTP/1.1 "), status_line
        headers: dict[str, str] = {}
        while (line := self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        body = self.reader.read(int(headers["content-length"]))
        return int(status_line.split()[1]), headers, body

    def closed_by_server(self) -> bool:
        """True once the server has closed its side (a read gives EOF)."""
        self.sock.settimeout(10)
        try:
            return self.reader.read(1) == b""
        except (ConnectionResetError, TimeoutError):
            return False

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


@pytest.fixture
def conn(server: LiveServer) -> Iterator[Conn]:
    c = Conn(server)
    yield c
    c.close()


def post(path: str, body: bytes, *extra: str, chunks: list[bytes] | None = None) -> bytes:
    """A POST request's bytes: Content-Length, or chunked transfer when ``chunks`` is given."""
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", *extra]
    if chunks is None:
        head.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body
    head.append("Transfer-Encoding: chunked")
    out = ("\r\n".join(head) + "\r\n\r\n").encode()
    for c in chunks:
        out += f"{len(c):x}\r\n".encode() + c + b"\r\n"
    return out + b"0\r\n\r\n"


def new_run(server: LiveServer) -> str:
    with httpx.Client(base_url=server.url) as http:
        exp = http.post(f"{API}/experiments/create", json={"name": f"proto-{uuid.uuid4().hex}"}).json()
        return http.post(f"{API}/runs/create", json={"experiment_id": exp["experiment_id"]}).json()["run"]["info"]["run_id"]


def metric(run_id: str, step: int, **extra: Any) -> bytes:
    return json.dumps({"run_id": run_id, "key": "m", "value": step / 2, "timestamp": step, "step": step,
                       **extra}).encode()


def steps(server: LiveServer, run_id: str) -> list[int]:
    with httpx.Client(base_url=server.url) as http:
        got = http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"}).json()
    return sorted(int(p["step"]) for p in got.get("metrics", []))


def test_many_calls_on_one_keep_alive_connection(server, conn):
    run_id = new_run(server)
    for step in range(40):
        conn.send(post(f"{API}/runs/log-metric", metric(run_id, step)))
        status, headers, body = conn.response()
        assert (status, json.loads(body)) == (200, {})
        assert headers["content-type"] == "application/json"
        assert "connection" not in headers and headers["date"]
    assert steps(server, run_id) == list(range(40))


def test_pipelined_requests_are_answered_in_order(server, conn):
    run_id = new_run(server)
    # hot, then a route through the app, then hot again, then a hot error: all in one write.
    conn.send(post(f"{API}/runs/log-metric", metric(run_id, 1))
              + f"GET {API}/runs/get?run_id={run_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
              + post("/ajax-api/2.0/mlflow/runs/log-metric", metric(run_id, 2))
              + post(f"{API}/runs/set-tag", b'{"run_id": "' + run_id.encode() + b'", "key": '))
    answers = [conn.response() for _ in range(4)]
    assert [a[0] for a in answers] == [200, 200, 200, 400]
    assert json.loads(answers[1][2])["run"]["info"]["run_id"] == run_id
    assert json.loads(answers[3][2])["error_code"] == "MALFORMED_REQUEST"
    assert steps(server, run_id) == [1, 2]


def test_a_body_split_across_segments_and_chunks_arrives_whole(server, conn):
    run_id = new_run(server)
    body = json.dumps({"run_id": run_id, "params": [{"key": f"p{i}", "value": "v" * 50} for i in range(20)]}).encode()
    request = post(f"{API}/runs/log-batch", body, chunks=[body[i:i + 97] for i in range(0, len(body), 97)])
    for i in range(0, len(request), 211):  # separate segments, each its own data_received
        conn.send(request[i:i + 211])
        time.sleep(0.002)
    status, _, answer = conn.response()
    assert (status, json.loads(answer)) == (200, {})
    with httpx.Client(base_url=server.url) as http:
        params = http.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]["data"]["params"]
    assert len(params) == 20


def test_a_declared_oversize_body_is_refused_before_it_is_read(server, conn):
    run_id = new_run(server)
    big = json.dumps({"run_id": run_id, "key": "p", "value": "x" * (REQUEST_LIMIT + 10)}).encode()
    head, _, _ = post(f"{API}/runs/log-parameter", big).partition(b"\r\n\r\n")
    conn.send(head + b"\r\n\r\n" + big[:100])  # most of the body never sent: the answer must not wait for it
    status, headers, answer = conn.response()
    assert status == 413 and json.loads(answer)["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert str(REQUEST_LIMIT) in json.loads(answer)["message"]
    assert headers["connection"] == "close" and conn.closed_by_server()


def test_an_endless_chunked_body_is_cut_off_at_the_limit(server, conn):
    run_id = new_run(server)
    conn.send(f"POST {API}/runs/set-tag HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
    status = None
    for _ in range(100):  # far past the limit if the server kept reading
        try:
            conn.send(b"400\r\n" + b"x" * 1024 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            break
        time.sleep(0.001)
    status, _, answer = conn.response()
    assert status == 413 and json.loads(answer)["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert conn.closed_by_server()
    assert steps(server, run_id) == []


def test_connection_close_and_http_1_0_close_after_the_answer(server):
    run_id = new_run(server)
    for version, extra in (("1.1", ["Connection: close"]), ("1.0", [])):
        c = Conn(server)
        try:
            request = post(f"{API}/runs/log-metric", metric(run_id, 7 if version == "1.1" else 8), *extra)
            c.send(request.replace(b"HTTP/1.1\r\n", f"HTTP/{version}\r\n".encode(), 1))
            status, headers, body = c.response()
            assert (status, json.loads(body)) == (200, {}), version
            assert headers["connection"] == "close"
            assert c.closed_by_server(), version
        finally:
            c.close()
    assert steps(server, run_id) == [7, 8]


def test_a_head_and_its_body_sent_apart_are_answered_whether_the_body_comes_soon_or_late(server, conn):
    """httpx sends a request's head and body apart: a read ending in the body (the front's lean parse, then
    its counting parser from the request's start), or the head alone, with the body soon or late."""
    run_id = new_run(server)
    for step, pause in ((1, 0.001), (2, 0.3), (3, 0.0)):
        request = post(f"{API}/runs/log-metric", metric(run_id, step))
        split = request.index(b"\r\n\r\n") + 4 + (step == 3) * 7  # the head alone, or with the body's start
        conn.send(request[:split])
        time.sleep(pause or 0.001)
        conn.send(request[split:])
        status, _, body = conn.response()
        assert (status, json.loads(body)) == (200, {}), step
    assert steps(server, run_id) == [1, 2, 3]


def test_a_client_gone_mid_body_writes_nothing_and_the_server_goes_on(server):
    run_id = new_run(server)
    c = Conn(server)
    request = post(f"{API}/runs/log-metric", metric(run_id, 3))
    c.send(request[:-5])
    c.close()
    conn = Conn(server)
    try:
        conn.send(post(f"{API}/runs/log-metric", metric(run_id, 4)))
        assert conn.response()[0] == 200
    finally:
        conn.close()
    assert steps(server, run_id) == [4]


def test_expect_100_continue_is_answered_by_uvicorn_and_still_lands(server, conn):
    run_id = new_run(server)
    body = metric(run_id, 5)
    head, _, _ = post(f"{API}/runs/log-metric", body, "Expect: 100-continue").partition(b"\r\n\r\n")
    conn.send(head + b"\r\n\r\n")
    assert conn.reader.readline().startswith(b"HTTP/1.1 100")
    assert conn.reader.readline() == b"\r\n"
    conn.send(body)
    assert conn.response()[0] == 200
    assert steps(server, run_id) == [5]


def test_errors_from_the_store_keep_their_codes(server, conn):
    conn.send(post(f"{API}/runs/log-metric", metric("0123456789abcdef0123456789abcdef", 1)))
    status, _, body = conn.response()
    assert status == 404 and json.loads(body)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    conn.send(post(f"{API}/runs/create", b'{"experiment_id": "x1"}'))
    status, _, body = conn.response()
    assert status == 400 and "experiment id" in json.loads(body)["message"].lower()
    # the same connection still serves a good call after errors
    run_id = new_run(server)
    conn.send(post(f"{API}/runs/log-metric", metric(run_id, 9)))
    assert conn.response()[0] == 200


@pytest.mark.parametrize("linked", [False, True], ids=["plain", "linked-to-a-model"])
def test_a_write_waiting_on_another_writers_lock_does_not_stall_the_server(server, conn, linked):
    db_uri = server.db_uri
    if not db_uri.startswith("sqlite"):
        pytest.skip("SQLite's file lock")
    import sqlite3

    run_id = new_run(server)
    # A metric linked to a logged model also writes outside the fast transactions.
    extra = {"model_id": "m-0123456789abcdef0123456789abcdef"} if linked else {}
    holder = sqlite3.connect(db_uri.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
    try:
        conn.send(post(f"{API}/runs/log-metric", metric(run_id, 1, **extra)))
        # The write waits for the lock off the event loop: the server answers others meanwhile.
        with httpx.Client(base_url=server.url, timeout=20) as http:
            assert http.get(f"{API}/runs/get", params={"run_id": run_id}).status_code == 200
            assert http.get("/health").status_code == 200
    finally:
        holder.rollback()
        holder.close()
    status, _, body = conn.response()  # answered once the lock is free
    if linked:
        assert status == 404 and "m-0123456789abcdef0123456789abcdef" in json.loads(body)["message"]
    else:
        assert status == 200 and steps(server, run_id) == [1]


def test_calls_arriving_together_are_answered_each_with_its_own_outcome(server):
    """On SQLite the calls read in one turn of the loop share one transaction and one commit: each
    still gets its own answer, a failing call undoes only its own writes, and every acknowledged
    write is there afterwards."""
    run_id = new_run(server)
    conns = [Conn(server) for _ in range(8)]
    try:
        for rounds in range(5):
            for i, c in enumerate(conns):  # every request is on the wire before any answer is read
                target = "0123456789abcdef0123456789abcdef" if i == 3 else run_id
                body = json.dumps({"run_id": target, "metrics": [{"key": "m", "value": 0.5, "timestamp": 1,
                                                                  "step": rounds * 100 + i}],
                                   "params": [{"key": f"p{rounds}", "value": "same"}] if i == 5 else []}).encode()
                c.send(post(f"{API}/runs/log-batch", body))
            for i, c in enumerate(conns):
                status, _, body = c.response()
                if i == 3:
                    assert status == 404 and json.loads(body)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
                else:
                    assert status == 200, body
        # a param logged again with another value fails alone
        for c in conns[:2]:
            c.send(post(f"{API}/runs/log-parameter",
                        json.dumps({"run_id": run_id, "key": "p0", "value": "other"}).encode()))
        statuses = [c.response()[0] for c in conns[:2]]
        assert statuses == [400, 400]
        # the other hot calls together: an update answers with what it just wrote
        other = new_run(server)
        conns[0].send(post(f"{API}/runs/set-tag", json.dumps({"run_id": other, "key": "t", "value": "v"}).encode()))
        conns[1].send(post(f"{API}/runs/update",
                           json.dumps({"run_id": other, "status": "FINISHED", "end_time": 7}).encode()))
        conns[2].send(post(f"{API}/runs/log-parameter", json.dumps({"run_id": other, "key": "k", "value": "1"}).encode()))
        answers = [c.response() for c in conns[:3]]
        assert [status for status, _, _ in answers] == [200, 200, 200]
        info = json.loads(answers[1][2])["run_info"]
        assert info["status"] == "FINISHED" and int(info["end_time"]) == 7
    finally:
        for c in conns:
            c.close()
    expected = sorted(r * 100 + i for r in range(5) for i in range(8) if i != 3)
    assert steps(server, run_id) == expected
    with httpx.Client(base_url=server.url) as http:
        params = http.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]["data"]["params"]
        got = http.get(f"{API}/runs/get", params={"run_id": other}).json()["run"]
    assert {p["key"]: p["value"] for p in params} == {f"p{r}": "same" for r in range(5)}
    assert got["info"]["status"] == "FINISHED"
    assert {"key": "t", "value": "v"} in got["data"]["tags"] and got["data"]["params"] == [{"key": "k", "value": "1"}]


def test_calls_queued_behind_another_writers_lock_are_committed_together(server):
    """While another connection holds SQLite's write lock the calls queue up for the writer thread,
    which commits those queued together in one transaction: each still gets its own answer."""
    db_uri = server.db_uri
    if not db_uri.startswith("sqlite"):
        pytest.skip("SQLite's file lock")
    import sqlite3

    run_id = new_run(server)
    conns = [Conn(server) for _ in range(8)]
    holder = sqlite3.connect(db_uri.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        for i, c in enumerate(conns):
            target = "0123456789abcdef0123456789abcdef" if i == 2 else run_id
            c.send(post(f"{API}/runs/log-metric", metric(target, i)))
        time.sleep(0.5)  # all of them queued behind the lock
    finally:
        holder.rollback()
        holder.close()
    try:
        statuses = [c.response()[0] for c in conns]
    finally:
        for c in conns:
            c.close()
    assert statuses == [200, 200, 404, 200, 200, 200, 200, 200]
    assert steps(server, run_id) == [0, 1, 3, 4, 5, 6, 7]


def test_calls_arriving_together_on_a_pooled_sqlite_store_are_answered_one_by_one(tmp_path):
    """A SQLite URI with options goes through SQLAlchemy's pool, where calls cannot share a
    transaction: calls queued together (here behind another writer's lock) are still each
    answered and stored, one by one."""
    import sqlite3

    live = LiveServer(f"sqlite:///{tmp_path / 'pooled.db'}?timeout=20", str(tmp_path / "artifacts"))
    conns: list[Conn] = []
    try:
        run_id = new_run(live)
        conns = [Conn(live) for _ in range(6)]
        holder = sqlite3.connect(tmp_path / "pooled.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # the calls queue up for the writer thread meanwhile
        try:
            for i, c in enumerate(conns):
                c.send(post(f"{API}/runs/log-metric", metric(run_id, i)))
            time.sleep(0.5)
        finally:
            holder.rollback()
            holder.close()
        assert [c.response()[0] for c in conns] == [200] * 6
        assert steps(live, run_id) == list(range(6))
    finally:
        for c in conns:
            c.close()
        live.stop()
