"""Bearer tokens for ``modelyard serve`` (``--tokens`` / ``MODELYARD_SERVE_TOKENS``).

When tokens are set, every request but the probes (``/health``, ``/ping``, ``/v2/health/*``) and the
registry's webhook (checked by its own signature) must send ``Authorization: Bearer TOKEN`` with one
of them; anything else is a 401 ``UNAUTHENTICATED`` in JSON. Tokens are compared by their SHA-256
in constant time. Without tokens the server is open, as before (put it behind your own gateway).
"""

from __future__ import annotations

import hashlib
import hmac

import msgspec
from starlette.types import ASGIApp, Receive, Scope, Send

OPEN_PATHS = ("/health", "/ping", "/-/webhook")
OPEN_PREFIXES = ("/v2/health/",)
_REFUSED = msgspec.json.encode({"error_code": "UNAUTHENTICATED",
                                "message": "This model server takes a bearer token: send Authorization: Bearer TOKEN."})


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def parse_tokens(value: str | None) -> tuple[str, ...]:
    """Tokens from a comma-separated setting (blanks dropped)."""
    return tuple(t.strip() for t in (value or "").split(",") if t.strip())


class TokenMiddleware:
    def __init__(self, app: ASGIApp, tokens: tuple[str, ...]) -> None:
        self.app = app
        self.digests = tuple(_digest(t) for t in tokens)

    def allowed(self, header: bytes) -> bool:
        scheme, _, credentials = header.decode("latin-1").strip().partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return False
        presented = _digest(credentials.strip())
        return any(hmac.compare_digest(presented, d) for d in self.digests)  # every one compared: no early exit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or scope["path"].startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        if self.allowed(header):
            await self.app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(_REFUSED)).encode()),
                                (b"www-authenticate", b'Bearer realm="modelyard serve"')]})
        await send({"type": "http.response.body", "body": _REFUSED})
