"""uvicorn's httptools protocol with a bound on request heads and a deadline on requests.

uvicorn's httptools path has no limit of its own: a 256 MB header line was held
whole in memory and answered, and a client sending half a body kept its
connection (and a task) for as long as it liked. :class:`LimitedProtocol` is
that protocol plus three checks, shared by ``modelyard server`` and
``modelyard serve``:

- a request head (request line and headers) over :data:`MAX_HEAD_BYTES`, or with
  more than :data:`MAX_HEADERS` headers, is answered 431 and the connection
  closed; the bytes it still sends are read and dropped (up to
  :data:`LINGER_BYTES`, for :data:`LINGER_SECONDS`), so the client reads the
  answer instead of a reset, and memory grows by at most one network read;
- a request not whole within the app's ``request_timeout`` seconds of its first
  byte is answered 408 (unless its answer has begun) and closed, a quarter of the
  timeout later at most. The clock starts only when a read ends inside a request,
  and one timer per connection looks at it now and then (a timer per request
  would cost more than the hot path's guard), so a request that arrives in one
  read costs nothing;
- :meth:`LimitedProtocol.linger` closes a connection that way for any answer sent
  before its request was read.

The head is counted per read, from the read in which it began: a read that
also holds the end of a previous request (pipelining) counts that too.
The app (or an app it wraps) names the timeout in a ``request_timeout`` attribute.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
MAX_HEADERS = 100
DEFAULT_REQUEST_TIMEOUT = 60.0
LINGER_BYTES = 16 * 1024 * 1024
LINGER_SECONDS = 5.0

_HEAD_TOO_LARGE = (
    b'{"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "Request headers too large: at most 65536 bytes'
    b' and 100 headers."}'
)
_TIMED_OUT = (
    b'{"error_code": "REQUEST_TIMEOUT", "message": "The request was not received in time: send the whole'
    b' request without pausing."}'
)


class HeadTooLarge(Exception):
    """Raised in a parser callback: the head is over the limits (answered 431 by ``data_received``)."""


def find_app_attr(app: Any, name: str) -> Any:
    """Attribute ``name`` of ``app`` or of an app it wraps (uvicorn wraps apps in middleware); None if none has it."""
    for _ in range(8):
        value = getattr(app, name, None)
        if value is not None:
            return value
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None


class LimitedProtocol(HttpToolsProtocol):
    """``uvicorn.Config(http=LimitedProtocol)``: see the module's docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_timeout = float(find_app_attr(self.app, "request_timeout") or DEFAULT_REQUEST_TIMEOUT)
        self._in_head = False
        self._in_message = False
        self._head_bytes = 0
        self._tick = min(max(self.request_timeout / 4, 0.05), 5.0)
        self._began: float | None = None  # when the request in progress began, if a read ended inside it
        self._ticker: asyncio.TimerHandle | None = None
        self._lingering: int | None = None  # bytes dropped since the answer, while lingering

    def data_received(self, data: bytes) -> None:
        if self._lingering is not None:
            self._lingering += len(data)
            if self._lingering > LINGER_BYTES:
                self.transport.close()
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, HeadTooLarge):
                self._answer_and_close(431, _HEAD_TOO_LARGE)
            else:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        if self._in_message:
            if self._in_head:
                self._head_bytes += len(data)
                if self._head_bytes > MAX_HEAD_BYTES:
                    self._answer_and_close(431, _HEAD_TOO_LARGE)
                    return
            if self._began is None:
                self._began = self.loop.time()
                if self._ticker is None:
                    self._ticker = self.loop.call_later(self._tick, self._check_deadline)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = self._in_message = True
        self._head_bytes = 0

    def head_complete(self) -> None:
        """The head is whole: check its number of headers. Every ``on_headers_complete`` calls this first."""
        self._in_head = False
        if len(self.headers) > MAX_HEADERS:
            raise HeadTooLarge()

    def on_headers_complete(self) -> None:
        self.head_complete()
        super().on_headers_complete()

    def message_complete(self) -> None:
        """The request is whole: the clock stops. Every ``on_message_complete`` calls this first."""
        self._in_message = False
        self._began = None

    def on_message_complete(self) -> None:
        self.message_complete()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        super().connection_lost(exc)

    def _check_deadline(self) -> None:
        """The connection's timer: a request in progress past its time is answered 408; while one is in
        progress the timer goes on, else it stops (the next slow read starts it again)."""
        self._ticker = None
        began = self._began
        if began is None or self._lingering is not None or self.transport.is_closing():
            return
        if self.loop.time() - began >= self.request_timeout:
            self._timed_out()
        else:
            self._ticker = self.loop.call_later(self._tick, self._check_deadline)

    def _timed_out(self) -> None:
        cycle = self.cycle
        started = getattr(cycle, "response_started", None)
        if started is None:
            started = cycle is not None and cycle.response_complete
        if cycle is not None and not started:
            cycle.disconnected = True  # the app reads the end of the request; what it sends goes nowhere
            cycle.message_event.set()
            self._answer_and_close(408, _TIMED_OUT)
        else:
            self.transport.close()

    def _answer_and_close(self, status: int, payload: bytes) -> None:
        """Answer ``status`` with JSON ``payload`` and ``connection: close``, then :meth:`linger`."""
        parts = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            parts += (name, b": ", value, b"\r\n")
        parts += (b"content-type: application/json\r\ncontent-length: ", str(len(payload)).encode(),
                  b"\r\nconnection: close\r\n\r\n", payload)
        self.transport.write(b"".join(parts))
        self.linger()

    def linger(self) -> None:
        """Close after an answer sent before the request was read: stop writing, drop what the client still
        sends (up to :data:`LINGER_BYTES`, for at most :data:`LINGER_SECONDS`), then close. Closing at once
        with unread bytes would reset the connection, and the client could lose the answer."""
        transport = self.transport
        if transport.is_closing() or self._lingering is not None:
            return
        self._in_message = False
        self._began = None
        self._lingering = 0
        self.flow.resume_reading()
        try:
            transport.write_eof()
        except (NotImplementedError, RuntimeError, OSError):
            transport.close()
            return
        self.loop.call_later(LINGER_SECONDS, transport.close)
