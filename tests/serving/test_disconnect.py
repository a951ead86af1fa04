"""A client that goes away in the middle of its body, against a real ``modelyard serve``, over a raw socket.

It is a disconnect, not bad input: no prediction, no answer, and no request
counted under any status in ``/metrics`` (MLflow scoring and OIP v2 infer alike).
The server keeps answering afterwards.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.serving.conftest import Registered, ServeProcess


@pytest.fixture(scope="module")
def server(registered: Registered) -> Iterator[ServeProcess]:
    proc = ServeProcess(registered.uri(), registered.tracking_uri, "--poll-interval", "0", "--no-request-log")
    try:
        yield proc
    finally:
        proc.stop()


def counted(url: str, endpoint: str) -> dict[str, float]:
    """``modelyard_serving_requests_total`` of ``endpoint``, by status."""
    text = httpx.get(url + "/metrics", timeout=30).text
    pattern = rf'^modelyard_serving_requests_total\{{endpoint="{endpoint}",status="(\d+)"\}} (\S+)$'
    return {m.group(1): float(m.group(2)) for m in re.finditer(pattern, text, re.MULTILINE)}


def send_part_and_close(port: int, path: str, body: bytes, *, chunked: bool) -> bytes:
    """POST ``path`` declaring more body than is sent, send half of ``body``, close; what came back before the close."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {len(body)}\r\n\r\n"
    part = body[: len(body) // 2]
    if chunked:
        part = f"{len(part):x}\r\n".encode() + part + b"\r\n"  # a first chunk, and never the last one
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode() + part)
        time.sleep(0.3)  # the server has read the head and the first part and waits for more
        sock.setblocking(False)
        try:
            return sock.recv(65536)
        except BlockingIOError:
            return b""


def wait_for_count(url: str, endpoint: str, status: str, n: float) -> dict[str, float]:
    deadline = time.monotonic() + 30
    while True:
        found = counted(url, endpoint)
        if found.get(status, 0) >= n or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize(("path", "endpoint", "payload"), [
    ("/invocations", "invocations", "split"),
    ("/v2/models/{name}/infer", "v2_infer", "v2"),
])
def test_a_client_gone_mid_body_is_no_failed_prediction(server: ServeProcess, registered: Registered,
                                                        chunked: bool, path: str, endpoint: str, payload: str):
    frame = registered.frame.iloc[:50]
    if payload == "split":
        doc = {"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}
    else:
        doc = {"inputs": [{"name": c, "datatype": "FP64", "shape": [len(frame)], "data": frame[c].tolist()}
                          for c in frame.columns]}
    body = json.dumps(doc).encode()
    url_path = path.format(name=registered.name)
    before = counted(server.url, endpoint)

    assert send_part_and_close(server.port, url_path, body, chunked=chunked) == b""  # no answer to a half body

    # A whole request after it is answered and counted; by then the server has seen the disconnect.
    good = httpx.post(server.url + url_path, content=body, headers={"Content-Type": "application/json"}, timeout=60)
    assert good.status_code == 200, good.text
    after = wait_for_count(server.url, endpoint, "200", before.get("200", 0) + 1)
    assert after.get("200", 0) == before.get("200", 0) + 1
    assert {s: n for s, n in after.items() if s != "200"} == {s: n for s, n in before.items() if s != "200"}, after
    assert "could not predict" not in server.output() and "Traceback" not in server.output()
