"""Reading a whole ASGI request body under a size limit.

Shared by the tracking server (``modelyard.server.protocol``) and the inference
server (``modelyard.serving``): a declared Content-Length over the limit is
refused before anything is read, and a chunked body (no Content-Length) is
refused as soon as it passes the limit, so a client cannot make the process
hold more than ``limit`` bytes plus one network chunk. Each caller says how it
refuses (``on_too_large(size, limit)`` returns the exception to raise), so its
message can name its own setting.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import Receive, Scope


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length when it is a plain number, else None (absent, chunked or garbled)."""
    for name, value in reversed(scope["headers"]):  # (clients send it last, most of them)
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def receive_body(
    scope: Scope, receive: Receive, limit: int, on_too_large: Callable[[int, int], Exception]
) -> bytes | None:
    """The whole body straight from ASGI ``receive``, or None if the client went away.

    A declared Content-Length over ``limit`` is refused before anything is read; a
    chunked body is refused as soon as it passes ``limit``. Refusing raises
    ``on_too_large(size, limit)``, where ``size`` is the declared length or the
    bytes received so far.
    """
    declared = declared_length(scope)
    if declared is not None and declared > limit:
        raise on_too_large(declared, limit)
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None  # http.disconnect
        chunk = message.get("body", b"")
        if chunk:
            seen += len(chunk)
            if seen > limit:
                raise on_too_large(seen, limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
