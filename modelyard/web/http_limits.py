"""A bound on request heads and a deadline on requests, in front of the ASGI server's HTTP protocol.

uvicorn's httptools protocol has no limit of its own: a 256 MB header line was held
whole in memory and answered, and a client sending half a body kept its connection
(and a task) for as long as it liked. :class:`LimitedConnection` sits between the
event loop and that protocol — it is an ``asyncio.Protocol`` that holds the server's
protocol and hands it every event, not a subclass of it — and reads the same bytes
with a parser of its own (``httptools``, a few microseconds per request) to see where
each request's head and body begin and end. Shared by ``modelyard server`` and
``modelyard serve`` (:func:`limited_http` gives ``uvicorn.Config(http=...)``):

- a request head (request line and headers) over :data:`MAX_HEAD_BYTES`, or with
  more than :data:`MAX_HEADERS` headers, is answered 431 and the connection
  closed; the bytes it still sends are read and dropped (up to
  :data:`LINGER_BYTES`, for :data:`LINGER_SECONDS`), so the client reads the
  answer instead of a reset, and memory grows by at most one network read (the
  server's protocol never sees more of the head than the limit);
- a request not whole within ``request_timeout`` seconds of its first byte is
  answered 408 (unless an answer to it has begun) and closed, a quarter of the
  timeout later at most. The clock starts only when a read ends inside a request,
  and one timer per connection looks at it now and then, so a request that arrives
  in one read costs nothing;
- an answer sent before its request was read (a body over its limit, refused as it
  arrives) closes the connection that same lingering way when the app asked for
  ``connection: close``: the server's protocol closes its transport, which is
  :class:`_Transport`, and that waits for the client instead of resetting it.

The server's protocol is reached only through the ``asyncio.Protocol`` and
``asyncio.Transport`` interfaces, and chosen by its public name (``httptools``);
nothing of its internals is read or overridden.
"""

from __future__ import annotations

import asyncio
import functools
import types
from collections.abc import Callable
from typing import Any, cast

import httptools

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
_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class Arrivals:
    """Requests whose head began to arrive on this process's connections (every :class:`LimitedConnection`'s):
    a count that only grows. The tracking server's hot path reads it (:meth:`modelyard.server.hotpath.HotPath.
    arrived_alone`) to tell a request that arrived alone from one that others may join in the same turn of
    the event loop."""

    __slots__ = ("heads",)

    def __init__(self) -> None:
        self.heads = 0


ARRIVALS = Arrivals()


class _Transport(asyncio.Transport):
    """The transport the server's protocol is given: the real one, but for ``close`` while a request is
    still arriving, which lingers (:meth:`LimitedConnection.linger`), and for writes once the connection
    answered on its own (408, 431) or lingers, which go nowhere. Writes are counted (an answer begun).

    A response head is held until the body's first write in the same turn of the event loop and
    sent with it: one send and one TCP segment for a small answer instead of two (uvicorn writes the
    head and the body apart). Whatever is held goes out at the end of the turn in any case.
    """

    def __init__(self, real: asyncio.Transport, owner: LimitedConnection) -> None:
        super().__init__()
        self._real = real
        self._owner = owner
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        owner = self._owner
        if owner.answered:
            return
        owner.writes += 1
        held = self._held
        if held is not None:
            self._held = None
            self._real.write(held + data)
        elif data[:5] == b"HTTP/" and data[-4:] == b"\r\n\r\n":
            self._held = bytes(data)
            owner.loop.call_soon(self.flush)
        else:
            self._real.write(data)

    def flush(self) -> None:
        """Send a held response head now."""
        held = self._held
        if held is not None:
            self._held = None
            if not self._real.is_closing():
                self._real.write(held)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def close(self) -> None:
        self.flush()
        owner = self._owner
        if owner.lingering:
            return  # the linger's own timer closes
        if owner.in_message:
            owner.linger()  # the client is still sending: read and drop that, then close
        else:
            self._real.close()

    def is_closing(self) -> bool:
        return self._real.is_closing() or self._owner.lingering

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._real.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._real.pause_reading()

    def resume_reading(self) -> None:
        self._real.resume_reading()

    def is_reading(self) -> bool:
        return self._real.is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._real.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._real.get_write_buffer_size() + len(self._held or b"")

    def can_write_eof(self) -> bool:
        return self._real.can_write_eof()

    def write_eof(self) -> None:
        self.flush()
        self._real.write_eof()

    def abort(self) -> None:
        self._real.abort()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._real.set_protocol(protocol)  # an upgrade: the new protocol reads the socket itself

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._real.get_protocol()


class LimitedConnection(asyncio.Protocol):
    """One connection: the limits of the module's docstring, then the server's own protocol."""

    def __init__(self, inner: asyncio.Protocol, request_timeout: float) -> None:
        self.inner = inner
        self.request_timeout = request_timeout
        self.parser = httptools.HttpRequestParser(self)
        # The same parser without on_header (a Python call per header): for reads that begin and end between
        # requests and hold too few lines and bytes for any head in them to carry over MAX_HEADERS headers or
        # MAX_HEAD_BYTES bytes (_parse).
        # None once it stopped inside a request (it is out of step): a new one is made for the next such read.
        self._lean: httptools.HttpRequestParser | None = None
        self.transport: asyncio.Transport | None = None
        self.front: _Transport | None = None  # what the server's protocol writes to
        self.loop = asyncio.get_event_loop()
        self.in_head = False
        self.in_message = False
        self.answered = False  # this connection answered on its own (408, 431): the protocol's writes are dropped
        self._head_bytes = 0
        self._headers = 0
        self._head_fields = 0  # bytes of the request line's target and of the headers, as the parser read them
        self._over = False  # a head over a limit was read: answered 431 once the read is parsed
        self._tick = min(max(request_timeout / 4, 0.05), 5.0)
        self._began: float | None = None  # when the request in progress began, if a read ended inside it
        self._ticker: asyncio.TimerHandle | None = None
        self._lingering: int | None = None  # bytes dropped since the answer, while lingering
        self.writes = 0  # writes by the server's protocol: one in the request's time means its answer began
        self._writes_at_begin = 0

    @property
    def lingering(self) -> bool:
        return self._lingering is not None

    # -- asyncio.Protocol: each event goes to the server's protocol ------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        real = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's subclasses: no isinstance
        self.transport = real
        self.front = _Transport(real, self)
        self.inner.connection_made(self.front)

    def data_received(self, data: bytes) -> None:
        if self._lingering is not None:
            self._lingering += len(data)
            if self._lingering > LINGER_BYTES and self.transport is not None:
                self.transport.close()
            return
        if self.answered:
            return
        head_before = self.in_head
        self._parse(data)
        if self._over:
            self._answer_and_close(431, _HEAD_TOO_LARGE)
            return
        if self.in_head or head_before:
            self._head_bytes += len(data)
            if self.in_head and self._head_bytes > MAX_HEAD_BYTES:
                self._answer_and_close(431, _HEAD_TOO_LARGE)
                return
        self.inner.data_received(data)
        if self.in_message and self._began is None and not self.answered:
            self._began = self.loop.time()
            if self._ticker is None:
                self._ticker = self.loop.call_later(self._tick, self._check_deadline)

    def _parse(self, data: bytes) -> None:
        """Feed ``data`` to this connection's parser.

        A read that begins between two requests, of at most :data:`MAX_HEAD_BYTES` bytes and
        :data:`MAX_HEADERS` line feeds, cannot hold a head over either limit (each header ends a line, and so
        do the request line and the head): it goes to :attr:`_lean`, which does not count headers. If a request is still arriving at its end, its
        headers must be counted from here on: :attr:`parser`, which stood at that same place between
        requests (it saw every read but the lean ones, each of which ended between requests), reads it
        again and goes on with the reads that follow until one begins between requests again; the lean
        parser, left inside that request, is dropped (a new one reads the next lean read).
        """
        try:
            if not self.in_message and len(data) <= MAX_HEAD_BYTES and data.count(b"\n") <= MAX_HEADERS:
                lean, self._lean = self._lean or self._new_lean(), None
                lean.feed_data(data)
                if not self.in_message:
                    self._lean = lean  # between requests again: fit for the next such read
                    return
                ARRIVALS.heads -= 1  # the counting parser reads that request's head again, and counts it
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # the server's protocol takes the upgrade from here
        except httptools.HttpParserError:
            pass  # the server's protocol answers a malformed request itself (400)

    def _new_lean(self) -> httptools.HttpRequestParser:
        """A parser calling this connection's callbacks but ``on_header`` (:meth:`_parse`)."""
        return httptools.HttpRequestParser(types.SimpleNamespace(
            on_message_begin=self.on_message_begin, on_headers_complete=self.on_headers_complete,
            on_message_complete=self.on_message_complete))

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    # -- httptools callbacks (this connection's own parser) ----------------------------------------------------

    def on_message_begin(self) -> None:
        ARRIVALS.heads += 1
        self.in_head = self.in_message = True
        self._head_bytes = 0
        self._headers = 0
        self._head_fields = 0
        self._writes_at_begin = self.writes

    def on_url(self, url: bytes) -> None:
        self._head_fields += len(url)
        if self._head_fields > MAX_HEAD_BYTES:
            self._over = True

    def on_header(self, name: bytes, value: bytes) -> None:
        # The fields' own bytes: a head that began and ended within one read (its bytes not counted by
        # data_received) is held to the size limit all the same; and each head of a read on its own.
        self._headers += 1
        self._head_fields += len(name) + len(value) + 4  # ": " and CRLF
        if self._headers > MAX_HEADERS or self._head_fields > MAX_HEAD_BYTES:
            self._over = True

    def on_headers_complete(self) -> None:
        self.in_head = False

    def on_message_complete(self) -> None:
        self.in_message = False
        self._began = None

    # -- limits ---------------------------------------------------------------------------------------------

    def _check_deadline(self) -> None:
        """The connection's timer: a request in progress past its time is answered 408; while one is in
        progress the timer goes on, else it stops (the next slow read starts it again)."""
        self._ticker = None
        began = self._began
        transport = self.transport
        if began is None or self._lingering is not None or transport is None or transport.is_closing():
            return
        if self.loop.time() - began >= self.request_timeout:
            if self.writes == self._writes_at_begin:  # no answer to this request has begun
                self._answer_and_close(408, _TIMED_OUT)
            else:
                transport.close()
        else:
            self._ticker = self.loop.call_later(self._tick, self._check_deadline)

    def _answer_and_close(self, status: int, payload: bytes) -> None:
        """Answer ``status`` with JSON ``payload`` and ``connection: close``, then :meth:`linger`. The server's
        protocol sees the connection end (``connection_lost``); what it writes meanwhile goes nowhere."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.front is not None:
            self.front.flush()  # an answer to an earlier request goes first
        self.answered = True
        transport.write(b"".join((
            b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status]),
            b"x-frame-options: SAMEORIGIN\r\nx-content-type-options: nosniff\r\n",
            b"content-type: application/json\r\ncontent-length: ", str(len(payload)).encode(),
            b"\r\nconnection: close\r\n\r\n", payload)))
        self.linger()

    def linger(self) -> None:
        """Close after an answer sent before the request was read: stop writing, drop what the client still
        sends (up to :data:`LINGER_BYTES`, for at most :data:`LINGER_SECONDS`), then close. Closing at once
        with unread bytes would reset the connection, and the client could lose the answer."""
        transport = self.transport
        if transport is None or transport.is_closing() or self._lingering is not None:
            return
        self.in_message = False
        self.answered = True  # nothing more goes out
        self._began = None
        self._lingering = 0
        transport.resume_reading()
        try:
            transport.write_eof()
        except (NotImplementedError, RuntimeError, OSError):
            transport.close()
            return
        self.loop.call_later(LINGER_SECONDS, transport.close)


def _limited(inner_class: Callable[..., asyncio.Protocol], request_timeout: float, **kwargs: Any) -> asyncio.Protocol:
    return LimitedConnection(inner_class(**kwargs), request_timeout)


def limited_http(request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> Callable[..., asyncio.Protocol]:
    """What to pass as ``uvicorn.Config(http=...)``: uvicorn's httptools protocol behind :class:`LimitedConnection`.

    uvicorn calls it with the keyword arguments it gives any protocol class; they go to its own protocol
    unread. A picklable object, so ``--workers N`` can hand it to its worker processes.
    """
    from uvicorn.config import HTTP_PROTOCOLS
    from uvicorn.importer import import_from_string

    inner = import_from_string(HTTP_PROTOCOLS["httptools"])
    return functools.partial(_limited, inner, float(request_timeout))


def default_http(**kwargs: Any) -> asyncio.Protocol:
    """``uvicorn --http modelyard.web.http_limits:default_http``: :func:`limited_http` with the default timeout."""
    return _default()(**kwargs)


@functools.cache
def _default() -> Callable[..., asyncio.Protocol]:
    return limited_http()
