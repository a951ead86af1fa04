"""A short path for MLflow's small write calls, innermost in the app's middleware.

``log-metric``, ``log-batch``, ``runs/create``, ``set-tag``, ``log-parameter``
and ``runs/update`` are most of what a training script sends, each a few
hundred microseconds of work. Starlette's ``Request``/``Response`` objects and
router cost a good part of that, so :class:`HotCalls`, an ASGI handler placed
inside every middleware (the guard, auth, metrics and whatever an operator
adds: they all see these calls) and in front of Starlette's router, answers
them itself: it reads the body with ``receive`` under the route's limit,
decodes it with the same schema, runs the same function through
:class:`HotPath` and sends the answer. Errors get the same JSON bodies and
statuses as the routes (:func:`.failures.error_payload`). With ``--auth`` the caller, verified by
the auth middleware, must hold the operation's permission (the table's declaration, checked by
:func:`.auth.authorize` from the cached grants, as the routes do) before the call runs.

Which calls take this path is a mapping ``{(method, path): HotCall}`` given by
``create_app`` (:data:`CALLS` by default: the table's ``hot`` operations under each of their paths).

The store is synchronous, so the call runs off the event loop: on SQLite through the
store's writer (:class:`modelyard.store.writer.Writer`: one connection, calls queued
together committed together), elsewhere in the thread pool. On SQLite, while nothing
else is in flight, calls that arrived in one turn of the event loop run on the loop
itself in one unit of work (:meth:`HotPath.answer_group`), when the writer is free at
once: one commit for all of them, no hop to another thread.
"""

from __future__ import annotations

import asyncio
import functools
import time
import types
from collections.abc import Awaitable, Callable, Generator
from typing import Any, NamedTuple

import msgspec
from starlette.types import ASGIApp, Receive, Scope, Send

from ..api.operations import Operation, all_operations
from ..errors import ModelyardError
from ..web.http_limits import ARRIVALS
from ..web.request_body import declared_length
from .auth import PRINCIPAL, authorize
from .failures import error_payload, is_busy
from .operations import TOO_LARGE
from .protocol import decode_body, too_large


class HotCall(NamedTuple):
    """One hot operation's schema, handler and body limit, as the table of operations declares them
    (``op``: the operation itself, whose permission is checked with ``--auth``)."""

    schema: type[msgspec.Struct]
    fn: Callable[[Any, Any], Any]
    max_bytes_setting: str = "max_request_bytes"
    on_too_large: Callable[[int, int], ModelyardError] = too_large
    op: Operation | None = None

    @classmethod
    def of(cls, op: Operation) -> HotCall:
        """The hot call of the table's operation ``op``: its schema, handler, limit and permission."""
        return cls(op.request, op.resolve(), op.max_bytes_setting, TOO_LARGE[op.too_large], op)


# (method, path) of each hot call: every path of each of the table's operations marked ``hot`` (its
# /ajax-api twin and other paths too).
CALLS: dict[tuple[str, str], HotCall] = {
    (op.method, path): HotCall.of(op) for op in all_operations() if op.hot for path in op.paths
}

# Calls run on the event loop (HotPath.answer_group): bodies up to this size; and while such calls
# take INLINE_SLOW_SECONDS or more on average (a slow disk's fsync: the loop would be held that
# long each time), none for INLINE_PAUSE_SECONDS. The average weighs the last call by
# INLINE_WEIGHT, and a call counts as INLINE_STALL_SECONDS at most, so neither one stall (the
# machine busy, a checkpoint) nor the first, cold calls stop it: a dozen slow calls in a row do.
INLINE_MAX_BYTES = 64 * 1024
INLINE_SLOW_SECONDS = 0.01
INLINE_PAUSE_SECONDS = 10.0
INLINE_WEIGHT = 0.05
INLINE_STALL_SECONDS = 2 * INLINE_SLOW_SECONDS

_encode = msgspec.json.Encoder().encode
_EMPTY = _encode({})


class HotPath:
    """Runs the hot calls of :class:`HotCalls` against the service, with a body already read
    (``hot.dispatch(call, body, path, reply)``, :meth:`answer_group`)."""

    def __init__(self, service: Any, calls: dict[tuple[str, str], HotCall]) -> None:
        self.service = service
        self.settings = service.settings
        self.calls = calls
        self.db = service.store.db
        self.writer = self.db.writer  # the store's (SQLite files only)
        self.inline = bool(self.settings.inline_small_requests)
        self._inline_paused_until = 0.0
        self._inline_average = 0.0  # seconds per call run on the loop, weighted towards the last ones
        # Calls that arrived in this turn of the event loop, answered together once the loop has
        # read every ready connection (_answer_ready): (future, call, decoded request, path).
        # (the first, which answers the others, has no future: see HotCalls._answer).
        self.ready: list[tuple[asyncio.Future[tuple[int, bytes]] | None, HotCall, Any, str]] = []
        self._heads_seen = 0  # ARRIVALS.heads when a call last led (arrived_alone)

    def find(self, scope: Scope) -> HotCall | None:
        if scope.get("root_path"):
            return None
        return self.calls.get((scope["method"], scope["path"]))

    def arrived_alone(self) -> bool:
        """Whether the request of the call about to lead (:meth:`HotCalls._answer`) is the only one whose head
        arrived (through the server's front, :mod:`..web.http_limits`) since the last call led: then no other
        request was read in this turn of the event loop, none can join it, and it need not wait for the next
        turn to be answered. False when unsure (another request arrived meanwhile, or the server is not ours
        and nothing is counted): the call waits for the next turn as ever. Either way every call is answered
        only once its writes are committed; this decides only which calls share a commit."""
        heads = ARRIVALS.heads
        alone = heads - self._heads_seen == 1
        self._heads_seen = heads
        return alone

    def limit(self, call: HotCall) -> int:
        """The most body bytes ``call`` accepts."""
        return int(getattr(self.settings, call.max_bytes_setting))

    def too_large(self, call: HotCall, size: int) -> tuple[int, bytes]:
        """The answer to a body of ``size`` bytes (or more) over ``call``'s limit."""
        return self.failure(call.on_too_large(size, self.limit(call)), "")

    def decode(self, call: HotCall, body: bytes, limit: int | None = None) -> Any:
        """The request object for ``call``; raises the error to answer for a bad or oversize body
        (``limit``: :meth:`limit`, if known)."""
        return decode_body(body, call.schema, self.limit(call) if limit is None else limit, call.on_too_large)

    def _exec(self, call: HotCall, obj: Any) -> tuple[int, bytes]:
        result = call.fn(self.service, obj)
        return 200, _EMPTY if result is None else _encode(result)

    def answer(self, call: HotCall, body: bytes, path: str = "", obj: Any = None) -> tuple[int, bytes]:
        """``(status, JSON)`` for one call with its whole body (or the request ``obj`` already
        decoded from it): decode, run, encode. Blocks on the store."""
        try:
            return self._exec(call, self.decode(call, body) if obj is None else obj)
        except Exception as exc:  # noqa: BLE001  (every error is answered, as Starlette's handlers do)
            return self.failure(exc, path)

    def may_answer_now(self, size: int) -> bool:
        """Whether a call with a ``size``-byte body may run on the event loop itself (:meth:`answer_group`).

        Only on a SQLite file, for a small body, while nothing waits for the writer's thread
        and calls run this way have been quick on average: the call never waits on a lock, so the
        loop is held for its own work and its commit (the fsync on FULL) and nothing more —
        about what a hop to the writer's thread and back costs.
        """
        return (
            self.inline
            and size <= INLINE_MAX_BYTES
            and self.writer is not None
            and self.writer.idle
            and time.monotonic() >= self._inline_paused_until
        )

    def answer_group(self, calls: list[tuple[HotCall, Any, str]]) -> list[tuple[int, bytes]] | None:
        """Answers for decoded requests ``(call, obj, path)`` run on this thread in one unit of work,
        committed once (one fsync for all), without waiting for the store's writer: None if it is in
        use or another process holds SQLite's write lock (nothing was written; :meth:`dispatch` them
        instead). With several calls each is a savepoint of its own, so one that fails is answered
        with its error and the others stand."""
        started = time.monotonic()
        db = self.db
        outcomes: list[tuple[int, bytes]] = []
        entered = False
        writer = self.writer
        if writer is not None and len(calls) == 1:  # alone: a bare block of its own, it fails whole
            call, obj, path = calls[0]
            try:
                outcome = writer.alone(self._exec, call, obj)
            except Exception as exc:  # noqa: BLE001  (nothing of it was committed)
                outcome = self.failure(exc, path)
            if outcome is None:
                return None
            self._timed_inline(started)
            return [outcome]
        # The writer's member itself rather than db.unit_of_work() (the same unit; no generator to step).
        unit = writer.member(False, len(calls) == 1) if writer is not None else db.unit_of_work(wait=False)
        try:
            with unit:  # one call alone: a bare unit, it fails whole
                entered = True
                if len(calls) == 1:
                    outcomes.append(self._exec(calls[0][0], calls[0][1]))
                else:
                    for call, obj, path in calls:
                        try:
                            with db.unit_of_work():  # a savepoint in the unit above
                                outcomes.append(self._exec(call, obj))
                        except Exception as exc:  # noqa: BLE001  (this call's answer; its savepoint is undone)
                            outcomes.append(self.failure(exc, path))
        except Exception as exc:  # noqa: BLE001  (nothing of the unit was committed: every call fails)
            if not entered and is_busy(exc):
                return None
            outcomes = [self.failure(exc, path) for _, _, path in calls]
        self._timed_inline(started, len(calls))
        return outcomes

    def _timed_inline(self, started: float, calls: int = 1) -> None:
        """Weigh in the time per call of calls just run on the loop (a group's commit is shared)."""
        took = (time.monotonic() - started) / calls
        self._inline_average += (min(took, INLINE_STALL_SECONDS) - self._inline_average) * INLINE_WEIGHT
        if self._inline_average >= INLINE_SLOW_SECONDS:  # a slow disk: stop holding the loop for a while
            self._inline_paused_until = started + took + INLINE_PAUSE_SECONDS
            self._inline_average = 0.0

    @staticmethod
    def failure(exc: BaseException, path: str) -> tuple[int, bytes]:
        status, content = error_payload(exc, "POST", path)
        return status, _encode(content)

    def dispatch(self, call: HotCall, body: bytes, path: str, reply: Callable[[int, bytes], None],
                 obj: Any = None) -> None:
        """Answer off the event loop (the store's writer on SQLite, else the default executor);
        ``reply(status, payload)`` then runs on the running loop. Call from the loop. ``obj``:
        the request already decoded from ``body``, if it was."""
        loop = asyncio.get_running_loop()
        if self.writer is not None:
            def done(result: Any, exc: BaseException | None) -> None:
                outcome = self.failure(exc, path) if exc is not None else result
                try:
                    loop.call_soon_threadsafe(reply, *outcome)
                except RuntimeError:  # the loop closed while we worked: nobody is waiting
                    pass

            self.writer.submit(functools.partial(self._run, call, body, obj), done)
        else:
            def finished(f: asyncio.Future[tuple[int, bytes]]) -> None:
                exc = f.exception()
                reply(*(f.result() if exc is None else self.failure(exc, path)))

            future = loop.run_in_executor(None, self.answer, call, body, path, obj)
            future.add_done_callback(finished)

    def _run(self, call: HotCall, body: bytes, obj: Any) -> tuple[int, bytes]:
        return self._exec(call, self.decode(call, body) if obj is None else obj)

    def close(self) -> None:
        """Finish the writes queued for the store's writer and stop its thread."""
        if self.writer is not None:
            self.writer.stop()


_JSON_TYPE = (b"content-type", b"application/json")
_CLOSE = (b"connection", b"close")


class HotCalls:
    """ASGI: the hot calls of ``hot`` answered here, everything else passed on to ``app`` (the router).

    Placed innermost in the app's middleware (:meth:`.app.ModelyardApp.build_middleware_stack`).
    A body over its call's limit is refused as soon as that is known (its Content-Length, or the
    bytes read so far): the server drops the rest of it and the connection stays usable, but for
    a body over ``max_request_bytes``, which is not worth reading: that answer closes the
    connection (the server's front, :mod:`modelyard.web.http_limits`, lingers so the client
    reads it). A client gone before its body is whole gets nothing and nothing is written.
    """

    def __init__(self, app: ASGIApp, hot: HotPath) -> None:
        self.app = app
        self.hot = hot
        self.others = 0  # other requests in flight through this app (they may hold the store)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # The coroutine of the layer that answers, returned rather than awaited: one frame less on
        # every resumption of every request.
        if scope["type"] != "http":  # lifespan (it lasts as long as the server) and websockets
            return self.app(scope, receive, send)
        call = self.hot.calls.get((scope["method"], scope["path"]))
        if call is not None and not scope.get("root_path"):
            return self._answer(call, scope, receive, send)
        return self._other(scope, receive, send)

    async def _other(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.others += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.others -= 1

    async def _answer(self, call: HotCall, scope: Scope, receive: Receive, send: Send) -> None:
        hot = self.hot
        path: str = scope["path"]
        scope["modelyard.operation"] = path
        limit = hot.limit(call)
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            await _reply(send, *hot.too_large(call, declared), declared > hot.settings.max_request_bytes)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before its body was whole: nothing to do, no one to answer
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    await _reply(send, *hot.too_large(call, size), size > hot.settings.max_request_bytes)
                    return
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        try:
            obj = hot.decode(call, body, limit)
            principal = scope.get(PRINCIPAL)
            if principal is not None:  # --auth: the operation's permission, from the cached grants, as the routes
                if call.op is None:
                    raise ModelyardError(f"No operation declared for the hot call {path}.")
                authorize(hot.service, principal, call.op, obj)
        except Exception as exc:  # noqa: BLE001  (a bad body, a refusal: answered here, as the routes would)
            await _reply(send, *hot.failure(exc, path))
            return
        if not self.others and hot.may_answer_now(len(body)):
            # Nothing else in flight: answering on the loop costs less than the hop to the writer's
            # thread. Answered once the loop has run every request that is ready, so calls that
            # arrive together are committed together (one fsync): the first of them leads, it waits
            # for the next turn of the loop while the others join hot.ready, then answers them all
            # (at once if its request arrived alone: nothing can join it, HotPath.arrived_alone).
            ready = hot.ready
            if not ready:
                ready.append((None, call, obj, path))
                if not hot.arrived_alone():
                    try:
                        await _next_turn()
                    except BaseException:  # cancelled: the others are answered all the same, by the writer
                        others, hot.ready = hot.ready[1:], []
                        for waiting, other, other_obj, other_path in others:
                            assert waiting is not None
                            hot.dispatch(other, b"", other_path, functools.partial(_settle_answer, waiting),
                                         other_obj)
                        raise
                own = _answer_ready(hot)
                assert own is not None  # (this call is the first of hot.ready)
                await _reply(send, *(own if isinstance(own, tuple) else await own))
                return
            # (the loop asked for only here: on Python 3.11 each asking is a getpid() system call)
            answer: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
            ready.append((answer, call, obj, path))
        else:
            answer = asyncio.get_running_loop().create_future()
            hot.dispatch(call, b"", path, functools.partial(_settle_answer, answer), obj)
        await _reply(send, *await answer)


async def _reply(send: Send, status: int, payload: bytes, close: bool = False) -> None:
    headers = [_JSON_TYPE, (b"content-length", b"%d" % len(payload))]
    if close:
        headers.append(_CLOSE)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _settle_answer(answer: asyncio.Future[tuple[int, bytes]], status: int, payload: bytes) -> None:
    if not answer.done():
        answer.set_result((status, payload))


@types.coroutine
def _next_turn() -> Generator[None, None, None]:
    """Await: resume in the next turn of the event loop (after what is ready now), as ``asyncio.sleep(0)``."""
    yield


Outcome = tuple[int, bytes]


def _answer_ready(hot: HotPath) -> Outcome | asyncio.Future[Outcome] | None:
    """Answer the calls that arrived in this turn of the loop in one unit of work with one commit
    (:meth:`HotPath.answer_group`); if the store's writer is in use or another process holds the
    write lock, through the writer's queue instead. The calls that wait for an answer have a future
    to settle; the one that leads (no future) gets its answer back, or a future of it."""
    ready, hot.ready = hot.ready, []
    if not ready:
        return None
    outcomes = hot.answer_group([(call, obj, path) for _, call, obj, path in ready])
    own: Outcome | asyncio.Future[Outcome] | None = None
    if outcomes is None:
        for answer, call, obj, path in ready:
            if answer is None:
                answer = own = asyncio.get_running_loop().create_future()
            hot.dispatch(call, b"", path, functools.partial(_settle_answer, answer), obj)
        return own
    for (answer, _, _, _), outcome in zip(ready, outcomes):
        if answer is None:
            own = outcome
        else:
            _settle_answer(answer, *outcome)
    return own
