"""uvicorn's httptools protocol, with the hot path's calls answered without ASGI.

A log-metric call costs the server ~0.3 ms of CPU, and a third of that was
uvicorn's per-request machinery: the ASGI scope, a task per request, the
``receive``/``send`` message dicts, and a head and a body written in two
``write`` calls. :class:`DirectProtocol` is uvicorn's own protocol except for a
POST to a path of :class:`.hotpath.HotPath` on an idle connection: its body is
collected in the parser's callbacks, handed to the hot path, and the answer goes
out in one ``write``. On SQLite, while nothing else is in flight, such calls run
on the event loop itself once it has read every connection that is ready: the
calls that arrived together share one transaction and one commit (one fsync for
all, :meth:`.hotpath.HotPath.answer_group`). Otherwise they run off the loop (the
writer thread, or the thread pool on PostgreSQL) and call back.

Everything else — other requests, a request pipelined behind one in flight,
``Expect: 100-continue``, upgrades — is uvicorn's unchanged path, and the app
still answers the hot calls itself when they come that way. Limits and errors
are the hot path's: the same statuses and JSON bodies as the routes.

The guard's checks (:meth:`..guard.Guard.check`, the rules of the app's middleware) run on
each hot call before its body is read; a refused call is answered once its body is read and
dropped, as is a body over its limit, so the connection stays usable. Limits on heads and
slow requests are :class:`..http_limits.LimitedProtocol`'s.

It subclasses uvicorn's ``HttpToolsProtocol`` and relies on its parser
callbacks and per-connection fields (``cycle``, ``pipeline``, ``flow``,
``on_response_complete``); uvicorn is pinned in ``.ci/constraints.txt`` and
``tests/server/test_http_protocol.py`` drives it over real sockets.
"""

from __future__ import annotations

from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ..web.guard import SECURITY_HEAD, Guard, Refusal
from ..web.http_limits import LimitedProtocol, find_app_attr
from .hotpath import Call, HotPath

_HEAD_TAIL = SECURITY_HEAD + b"content-type: application/json\r\ncontent-length: "
_CLOSE = b"connection: close\r\n"


class _NoEvent:
    """Stands in for the ``asyncio.Event`` uvicorn sets on a cycle when the connection drops."""

    @staticmethod
    def set() -> None:
        return None


class DirectCycle:
    """One hot call in flight: what uvicorn's code reads of a request cycle, plus the body so far."""

    message_event = _NoEvent()

    def __init__(self, call: Call, path: str, limit: int, keep_alive: bool) -> None:
        self.call, self.path, self.limit, self.keep_alive = call, path, limit, keep_alive
        self.chunks: list[bytes] = []
        # The answer decided before the body is read (refused by the guard, or over the limit):
        # sent once the body is read and dropped, so the connection stays usable.
        self.refusal: tuple[int, bytes] | None = None
        self.size = 0
        self.response_complete = False
        self.disconnected = False


def find_hot_path(app: Any) -> HotPath | None:
    """The :class:`HotPath` of ``app`` or of the app it wraps (uvicorn wraps it in middleware)."""
    hot = find_app_attr(app, "hot")
    return hot if isinstance(hot, HotPath) else None


class DirectProtocol(LimitedProtocol):
    """``uvicorn.Config(http=DirectProtocol)``: see the module's docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        guard = find_app_attr(self.app, "guard")
        # Without the app's guard, the hot calls go the ASGI way, through its middleware.
        self.hot = find_hot_path(self.app) if not self.root_path and isinstance(guard, Guard) else None
        self.guard: Guard = guard

    def on_headers_complete(self) -> None:
        self.head_complete()
        cycle = self.cycle
        hot = self.hot
        if (
            hot is not None
            and (cycle is None or cycle.response_complete)
            and self.parser.get_method() == b"POST"
            and not self.expect_100_continue
            and not self.parser.should_upgrade()
            and self.limit_concurrency is None
        ):
            raw = httptools.parse_url(self.url).path
            if b"%" not in raw:
                path = raw.decode("ascii")
                call = hot.routes.get(path)
                if call is not None:
                    keep_alive = self.parser.get_http_version() == "1.1" and self.parser.should_keep_alive()
                    limit = hot.limit(call)
                    self.cycle = direct = DirectCycle(call, path, limit, keep_alive)  # type: ignore[assignment]
                    refusal: Refusal | None = self.guard.check("POST", path, self.headers, self.server[0]
                                                                if self.server else None)
                    if refusal is not None:
                        direct.refusal, direct.limit = refusal, 0  # the body is read and dropped
                        return
                    declared = _content_length(self.headers)
                    if declared is not None and declared > limit:
                        self._refuse(direct, declared)
                    return
        HttpToolsProtocol.on_headers_complete(self)  # head_complete() is done

    def on_body(self, body: bytes) -> None:
        direct = self.cycle
        if type(direct) is not DirectCycle:
            super().on_body(body)
            return
        if direct.response_complete:
            return
        direct.size += len(body)
        if direct.size > direct.limit:
            self._refuse(direct, direct.size)
            return
        direct.chunks.append(body)

    def on_message_complete(self) -> None:
        direct = self.cycle
        if type(direct) is not DirectCycle:
            super().on_message_complete()
            return
        self.message_complete()
        if direct.response_complete:
            return
        if direct.refusal is not None:
            self._reply(direct, *direct.refusal)
            return
        chunks = direct.chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        direct.chunks = []
        hot: HotPath = self.hot  # type: ignore[assignment]
        try:
            obj = hot.decode(direct.call, body)
        except Exception as exc:  # noqa: BLE001  (a bad body: answered here, as the routes would)
            self._reply(direct, *hot.failure(exc, direct.path))
            return
        if not self.server_state.tasks and hot.may_answer_now(len(body)):
            # Nothing else in flight: answering on the loop costs less than the hop to the writer
            # thread. Answered once the loop has read every connection that is ready, so calls
            # that arrive together are committed together (one fsync; see _answer_ready).
            if not hot.ready:
                self.loop.call_soon(_answer_ready, hot)
            hot.ready.append((self, direct, obj))
            return
        self._dispatch(direct, obj)

    def _dispatch(self, direct: DirectCycle, obj: Any) -> None:
        """Answer ``direct`` off the loop (the writer thread on SQLite)."""
        # Nothing more is read until the answer is out (uvicorn pauses for pipelined requests too).
        if not self.transport.is_closing():
            self.flow.pause_reading()
        self.hot.dispatch(direct.call, b"", direct.path,  # type: ignore[union-attr]
                          lambda status, payload: self._reply(direct, status, payload), obj)

    def _refuse(self, direct: DirectCycle, size: int) -> None:
        """A body over the limit: answered once it is read (dropped on the way), so the connection
        stays usable and a client that writes its whole body before reading sees the answer. A body
        over ``max_request_bytes`` is not worth reading: answered at once, then the connection lingers
        and closes (:meth:`.LimitedProtocol.linger`)."""
        if direct.refusal is None:
            direct.refusal = self.hot.too_large(direct.call, size)  # type: ignore[union-attr]
            direct.chunks = []
        if size > self.hot.settings.max_request_bytes:  # type: ignore[union-attr]
            direct.keep_alive = False
            self._reply(direct, *direct.refusal)

    def _reply(self, direct: DirectCycle, status: int, payload: bytes) -> None:
        if direct.response_complete:
            return
        direct.response_complete = True
        transport = self.transport
        if direct.disconnected or transport.is_closing():
            return
        parts = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            parts += (name, b": ", value, b"\r\n")
        parts += (_HEAD_TAIL, str(len(payload)).encode(), b"\r\n")
        if not direct.keep_alive:
            parts.append(_CLOSE)
        parts += (b"\r\n", payload)
        transport.write(b"".join(parts))
        if not direct.keep_alive:
            if self._in_message:
                self.linger()
            else:
                transport.close()
        self.on_response_complete()


def _answer_ready(hot: HotPath) -> None:
    """Answer the calls that arrived in this turn of the loop: one alone (:meth:`HotPath.answer_now`),
    several in one transaction with one commit (:meth:`HotPath.answer_group`). Those that cannot
    run on the loop — another connection holds the write lock, or a call writes outside fast
    transactions — go to the writer thread."""
    ready, hot.ready = hot.ready, []
    here: list[tuple[Any, Any, Any]] = []
    elsewhere: list[tuple[Any, Any, Any]] = []
    for item in ready:
        (here if item[1].call.fast_only(item[2]) else elsewhere).append(item)
    if len(here) > 1 and hot.groups:
        outcomes = hot.answer_group([(direct.call, obj, direct.path) for _, direct, obj in here])
        if outcomes is None:
            elsewhere = here + elsewhere
        else:
            for (protocol, direct, _), outcome in zip(here, outcomes):
                protocol._reply(direct, *outcome)
    else:  # one call, or a database whose calls cannot share a transaction: one by one
        for item in here:
            protocol, direct, obj = item
            answered = hot.answer_now(direct.call, obj, direct.path)
            if answered is None:
                elsewhere.append(item)
            else:
                protocol._reply(direct, *answered)
    for protocol, direct, obj in elsewhere:  # after the group: the writer thread would hold the lock
        protocol._dispatch(direct, obj)


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
