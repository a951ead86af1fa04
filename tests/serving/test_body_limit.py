"""Request bodies over ``--max-request-bytes`` against a real ``modelyard serve``, over a raw socket.

An endless chunked body (no Content-Length) must be cut off with 413 once it passes
the limit, on every path that reads a body (MLflow scoring with JSON and CSV, OIP
v2 infer, feedback), and a declared oversize Content-Length must be refused before
any of the body is sent. The server keeps answering afterwards.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.serving.conftest import Registered, ServeProcess

LIMIT = 65_536
CHUNK = b"[" + b"1.0," * 4095 + b"1.0]"  # 16 KiB of JSON-looking bytes
GIVE_UP_BYTES = 256 * 1024 * 1024  # far past the limit: the server never answered


@pytest.fixture(scope="module")
def limited(registered: Registered) -> Iterator[ServeProcess]:
    proc = ServeProcess(registered.uri(), registered.tracking_uri, "--poll-interval", "0", "--no-request-log",
                        "--max-request-bytes", str(LIMIT))
    try:
        yield proc
    finally:
        proc.stop()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length: status, headers (lower-case names), body."""
    data = b""
    sock.settimeout(30)
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        assert more, f"connection closed before a response: {data!r}"
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers["content-length"])
    while len(body) < length:
        more = sock.recv(65536)
        assert more, "connection closed in the middle of the response body"
        body += more
    return status, headers, body[:length]


def send_endless_chunked(port: int, path: str, content_type: str) -> tuple[int, dict[str, str], bytes, int]:
    """POST ``path`` with a chunked body that never ends, until the server answers; also the bytes sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        frame = f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n"
        sent = 0
        deadline = time.monotonic() + 60
        while sent < GIVE_UP_BYTES and time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 1.0)
            if readable:
                return (*read_response(sock), sent)
            if writable:
                sock.sendall(frame)
                sent += len(CHUNK)
        raise AssertionError(f"no answer after {sent} bytes of a chunked body (limit {LIMIT})")


def assert_refused(status: int, body: bytes, *, oip: bool = False) -> None:
    assert status == 413, body
    answer = json.loads(body)
    message = answer["error"] if oip else answer["message"]
    if not oip:
        assert answer["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert f"limit of {LIMIT} bytes" in message and "--max-request-bytes" in message


def assert_healthy(server: ServeProcess, registered: Registered) -> None:
    rows = registered.frame.iloc[:3]
    resp = httpx.post(server.url + "/invocations", json={"dataframe_split": rows.to_dict(orient="split")})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"predictions": registered.versions[1].predict(rows).tolist()}


@pytest.mark.parametrize("content_type", ["application/json", "text/csv"])
def test_endless_chunked_invocations_is_cut_off(limited, registered, content_type):
    status, _headers, body, sent = send_endless_chunked(limited.port, "/invocations", content_type)
    assert_refused(status, body)
    assert sent < GIVE_UP_BYTES
    assert_healthy(limited, registered)


@pytest.mark.parametrize("path", ["/v2/models/{name}/infer", "/feedback"])
def test_endless_chunked_on_the_other_body_paths_is_cut_off(limited, registered, path):
    status, _, body, _ = send_endless_chunked(limited.port, path.format(name=registered.name), "application/json")
    assert_refused(status, body, oip=path.startswith("/v2"))
    assert_healthy(limited, registered)


def test_declared_oversize_length_is_refused_before_the_body(limited, registered):
    with socket.create_connection(("127.0.0.1", limited.port), timeout=30) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {10 * LIMIT}\r\n\r\n".encode())
        status, _, body = read_response(sock)  # not one byte of the body sent
    assert_refused(status, body)
    assert json.loads(body)["message"].startswith(f"Request body of {10 * LIMIT} bytes")
    assert_healthy(limited, registered)


def test_body_at_the_limit_is_read(limited, registered):
    """The limit is inclusive: a body of exactly LIMIT bytes is read (and parsed), one more byte is not."""
    payload = json.dumps({"dataframe_split": registered.frame.iloc[:3].to_dict(orient="split")}).encode()
    exact = payload + b" " * (LIMIT - len(payload))
    ok = httpx.post(limited.url + "/invocations", content=exact, headers={"content-type": "application/json"})
    over = httpx.post(limited.url + "/invocations", content=exact + b" ", headers={"content-type": "application/json"})
    assert ok.status_code == 200, ok.text
    assert over.status_code == 413 and over.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
