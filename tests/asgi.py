"""One HTTP request through an ASGI app in process, as a server would pass it on (no socket)."""

from __future__ import annotations

import asyncio
from typing import Any


async def call(asgi: Any, method: str, path: str, chunks: list[bytes], *, declare_length: bool = True,
               disconnect: bool = False,
               headers: list[tuple[bytes, bytes]] | None = None) -> tuple[int, dict[str, str], bytes] | None:
    """One request through ``asgi``: the body sent as ``chunks`` (chunked when not declared), with ``headers``
    besides host, content type and length; its status, headers and body (None when nothing was sent)."""
    total = sum(map(len, chunks))
    head = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    head.append((b"content-length", str(total).encode()) if declare_length else (b"transfer-encoding", b"chunked"))
    head += headers or []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": head,
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 5000)}
    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    if disconnect:
        pending = [{"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asgi(scope, receive, send)
    if not sent:
        return None
    start, *bodies = sent
    answered = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], answered, b"".join(m.get("body", b"") for m in bodies)
