"""The servers :mod:`benchmarks.tracking.front` measures, one per process:

    python -m benchmarks.tracking.front_server KIND PORT

- ``raw``: an ``asyncio.Protocol`` on uvloop that parses with httptools and writes a fixed
  answer: the floor (socket, parse, one write), no ASGI at all;
- ``uvicorn``: uvicorn's httptools protocol and a trivial ASGI app (read the body, answer ``{}``);
- ``uvicorn-limits``: the same behind :func:`modelyard.web.http_limits.limited_http` (what
  ``modelyard server`` runs);
- ``granian``: granian's ASGI interface and the same trivial app (one worker).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

_ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


class _Raw(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        import httptools

        self.transport: Any = transport
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        self.transport.write(_ANSWER)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Read the request, answer ``{}``."""
    if scope["type"] != "http":
        return
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})


def main(kind: str, port: int) -> None:
    if kind == "raw":
        import uvloop

        async def serve() -> None:
            server = await asyncio.get_running_loop().create_server(_Raw, "127.0.0.1", port)
            await server.serve_forever()

        uvloop.run(serve())
    elif kind in ("uvicorn", "uvicorn-limits"):
        import uvicorn

        from modelyard.web.http_limits import limited_http

        http: Any = limited_http(60.0) if kind == "uvicorn-limits" else "httptools"
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, http=http)
    elif kind == "granian":
        from granian import Granian  # type: ignore[import-not-found]

        Granian("benchmarks.tracking.front_server:app", address="127.0.0.1", port=port, interface="asgi",
                workers=1, log_enabled=False).serve()
    else:
        raise SystemExit(f"unknown server {kind!r}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
