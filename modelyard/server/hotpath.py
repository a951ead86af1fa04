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
statuses as the routes (:func:`.failures.error_payload`).

Which calls take this path is a mapping ``{(method, path): HotCall}`` given by
``create_app`` (:func:`hot_calls`, from :data:`CALLS`).

The store is synchronous, so the call runs off the event loop: on SQLite in
one writer thread (SQLite takes one writer at a time anyway; a thread of our
own is cheaper to reach than the general pool), elsewhere in the thread pool.
On SQLite, while nothing else is in flight, small calls run on the loop itself
(:meth:`HotPath.answer_now`), and calls that arrive together share one
transaction and one commit (:meth:`HotPath.answer_group`): with eight clients
logging at once that halves the server's CPU per call and doubles its rate.
"""

from __future__ import annotations

import asyncio
import functools
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec
from starlette.types import ASGIApp, Receive, Scope, Send

from ..api import schemas as s
from ..api.operations import API, all_operations
from ..errors import ModelyardError
from ..web.request_body import declared_length
from .failures import error_payload, is_busy
from .operations import TOO_LARGE
from .protocol import decode_body, too_large


class HotCall(NamedTuple):
    """One hot operation's schema, handler and body limit, as the table of operations declares them."""

    schema: type[msgspec.Struct]
    fn: Callable[[Any, Any], Any]
    max_bytes_setting: str = "max_request_bytes"
    on_too_large: Callable[[int, int], ModelyardError] = too_large
    # Whether this decoded request writes through fast transactions only (Database.fast_write),
    # which is what HotPath.answer_now can run without waiting on another writer's lock.
    fast_only: Callable[[Any], bool] = lambda req: True


def _no_model_links(req: s.LogBatch) -> bool:
    """Metrics linked to a logged model are also written through SQLAlchemy (``link_metrics``)."""
    return not any(m.model_id for m in req.metrics)


_FAST_ONLY: dict[str, Callable[[Any], bool]] = {
    "log_metric": lambda req: not req.model_id,
    "log_batch": _no_model_links,
}

# (method, path under MLflow's prefixes) of each hot call: the table's operations marked ``hot``.
CALLS: dict[tuple[str, str], HotCall] = {
    (op.method, op.path.removeprefix(API)): HotCall(op.request, op.resolve(), op.max_bytes_setting,
                                                    TOO_LARGE[op.too_large], _FAST_ONLY.get(op.name, lambda req: True))
    for op in all_operations() if op.hot
}


def hot_calls(prefixes: tuple[str, ...]) -> dict[tuple[str, str], HotCall]:
    """:data:`CALLS` under each of ``prefixes``: the mapping :class:`HotCalls` takes."""
    return {(method, prefix + path): call for prefix in prefixes for (method, path), call in CALLS.items()}

# Calls run on the event loop (HotPath.answer_now): bodies up to this size; and while such calls
# take INLINE_SLOW_SECONDS or more on average (a slow disk's fsync: the loop would be held that
# long each time), none for INLINE_PAUSE_SECONDS. The average weighs the last call by
# INLINE_WEIGHT, so one stall (the machine busy, a checkpoint) does not stop it.
INLINE_MAX_BYTES = 64 * 1024
INLINE_SLOW_SECONDS = 0.01
INLINE_PAUSE_SECONDS = 10.0
INLINE_WEIGHT = 0.05

_encode = msgspec.json.Encoder().encode
_EMPTY = _encode({})


_NOTHING = object()
GROUP_MAX = 256  # calls committed together by the writer thread, at most


class WriterThread:
    """One thread that runs calls in arrival order: ``submit(fn, args, done)``, or ``await run(fn, *args)``."""

    def __init__(self, name: str = "modelyard-writer") -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Each counter has one writer (the submitting loop, the writer thread): no lock needed.
        self._submitted = 0
        self._finished = 0

    @property
    def idle(self) -> bool:
        """Nothing queued or running."""
        return self._submitted == self._finished

    @property
    def depth(self) -> int:
        """Calls queued or running."""
        return self._submitted - self._finished

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...],
               done: Callable[[Any, BaseException | None], None],
               group: Callable[[list[tuple[Any, ...]]], list[Any]] | None = None) -> None:
        """Queue ``fn(*args)``; ``done(result, exc)`` is called on the writer thread once it ran.

        With ``group``, jobs queued one after another with the same ``group`` are run
        together as ``group([args, ...])``, which returns their results in order (up to
        :data:`GROUP_MAX` at a time; one job alone still runs as ``fn(*args)``).
        """
        if self._thread is None:
            self._start()
        self._submitted += 1
        self._jobs.put((fn, args, done, group))

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def done(result: Any, exc: BaseException | None) -> None:
            try:
                loop.call_soon_threadsafe(_settle, future, result, exc)
            except RuntimeError:  # the loop closed while we worked: nobody is waiting
                pass

        self.submit(fn, args, done)
        return await future

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._thread.start()

    def _work(self) -> None:
        jobs = self._jobs
        held: Any = _NOTHING  # a job taken off the queue while gathering a group: it runs next
        while True:
            job = jobs.get() if held is _NOTHING else held
            held = _NOTHING
            if job is None:
                return
            group = job[3]
            batch = [job]
            while group is not None and len(batch) < GROUP_MAX:
                try:
                    more = jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None or more[3] is not group:
                    held = more
                    break
                batch.append(more)
            try:
                if len(batch) == 1:
                    results, exc = [job[0](*job[1])], None
                else:
                    results, exc = group([b[1] for b in batch]), None  # type: ignore[misc]
            except BaseException as error:  # noqa: BLE001  (handed to whoever waits, who answers it)
                results, exc = [None] * len(batch), error
            self._finished += len(batch)
            for (_, _, done, _), result in zip(batch, results):
                done(result, exc)
            del job, batch, results, exc, done

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the calls already queued, then end the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            thread.join(timeout)


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.cancelled():
        return
    if exc is None:
        future.set_result(result)
    else:
        future.set_exception(exc)


class HotPath:
    """Runs the hot calls of :class:`HotCalls` against the service, with a body already read
    (``hot.dispatch(call, body, path, reply)``, :meth:`answer_now`, :meth:`answer_group`)."""

    def __init__(self, service: Any, calls: dict[tuple[str, str], HotCall]) -> None:
        self.service = service
        self.settings = service.settings
        self.calls = calls
        self.writer = WriterThread() if service.store.db.is_sqlite else None
        self.inline = bool(self.settings.inline_small_requests)
        self._inline_paused_until = 0.0
        self._inline_average = 0.0  # seconds per call run on the loop, weighted towards the last ones
        # Calls that arrived in this turn of the event loop, answered together once the loop has
        # read every ready connection (_answer_ready): (future, call, decoded request, path).
        self.ready: list[tuple[asyncio.Future[tuple[int, bytes]], HotCall, Any, str]] = []
        # Whether calls may share a transaction (a SQLite file; not an in-memory database), and one
        # bound method for every submit: the writer thread groups jobs by this object's identity.
        self.groups = service.store.db.can_group
        self._writer_group = self._answer_queued if self.groups else None

    def find(self, scope: Scope) -> HotCall | None:
        if scope.get("root_path"):
            return None
        return self.calls.get((scope["method"], scope["path"]))

    def limit(self, call: HotCall) -> int:
        """The most body bytes ``call`` accepts."""
        return int(getattr(self.settings, call.max_bytes_setting))

    def too_large(self, call: HotCall, size: int) -> tuple[int, bytes]:
        """The answer to a body of ``size`` bytes (or more) over ``call``'s limit."""
        return self.failure(call.on_too_large(size, self.limit(call)), "")

    def decode(self, call: HotCall, body: bytes) -> Any:
        """The request object for ``call``; raises the error to answer for a bad or oversize body."""
        return decode_body(body, call.schema, self.limit(call), call.on_too_large)

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
        """Whether a call with a ``size``-byte body may run on the event loop itself (:meth:`answer_now`).

        Only on SQLite, for a small body, while the writer thread is idle and calls
        run this way have been quick on average: the call never waits on a lock, so the loop is
        held for its own work and its commit (the fsync on FULL) and nothing more —
        about what a hop to the writer thread and back costs.
        """
        return (
            self.inline
            and size <= INLINE_MAX_BYTES
            and self.writer is not None
            and self.writer.idle
            and time.monotonic() >= self._inline_paused_until
        )

    def answer_now(self, call: HotCall, obj: Any, path: str) -> tuple[int, bytes] | None:
        """:meth:`answer` for a decoded request on this thread, without waiting for SQLite's write
        lock: None if another connection holds it (nothing was written; :meth:`dispatch` it instead).
        Only for calls that write through fast transactions (``call.fast_only(obj)``, which the
        caller has checked)."""
        started = time.monotonic()
        with self.service.store.db.no_wait():
            try:
                outcome = self._exec(call, obj)
            except Exception as exc:  # noqa: BLE001  (answered below, as in answer())
                if is_busy(exc):
                    return None
                outcome = self.failure(exc, path)
        self._timed_inline(started)
        return outcome

    def answer_group(self, calls: list[tuple[HotCall, Any, str]], wait: bool = False) -> list[tuple[int, bytes]] | None:
        """Answers for several decoded requests ``(call, obj, path)`` run on this thread in one
        SQLite transaction, committed once (one fsync for all: :meth:`Database.group`); each
        call's writes are its own savepoints, so a call that fails is answered with its error
        and the others stand. Only for calls that write through fast transactions (checked by the
        caller, as for :meth:`answer_now`). None if calls cannot share a transaction on this store
        (:attr:`groups`) or (unless ``wait``) if another connection holds the write lock: nothing
        was written, answer them one by one instead. With ``wait`` the lock is waited for as long
        as any write would."""
        if not self.groups:
            return None
        started = time.monotonic()
        outcomes: list[tuple[int, bytes]] = []
        try:
            with self.service.store.db.group(wait=wait):
                for call, obj, path in calls:
                    try:
                        outcomes.append(self._exec(call, obj))
                    except Exception as exc:  # noqa: BLE001  (this call's answer; its savepoint is undone)
                        outcomes.append(self.failure(exc, path))
        except Exception as exc:  # noqa: BLE001  (nothing of the group was committed: every call fails)
            if not outcomes and not wait and is_busy(exc):
                return None
            outcomes = [self.failure(exc, path) for _, _, path in calls]
        if not wait:
            self._timed_inline(started, len(calls))
        return outcomes

    def _answer_queued(self, jobs: list[tuple[HotCall, bytes, str, Any]]) -> list[tuple[int, bytes]]:
        """The writer thread's group (see WriterThread.submit): the fast-only calls that queued up
        while it was busy (only those are submitted with it), answered in one transaction."""
        outcomes = self.answer_group([(call, obj, path) for call, _, path, obj in jobs], wait=True)
        assert outcomes is not None  # submitted grouped only where calls can share a transaction
        return outcomes

    def _timed_inline(self, started: float, calls: int = 1) -> None:
        """Weigh in the time per call of calls just run on the loop (a group's commit is shared)."""
        took = (time.monotonic() - started) / calls
        self._inline_average += (took - self._inline_average) * INLINE_WEIGHT
        if self._inline_average >= INLINE_SLOW_SECONDS:  # a slow disk: stop holding the loop for a while
            self._inline_paused_until = started + took + INLINE_PAUSE_SECONDS
            self._inline_average = 0.0

    @staticmethod
    def failure(exc: BaseException, path: str) -> tuple[int, bytes]:
        status, content = error_payload(exc, "POST", path)
        return status, _encode(content)

    def dispatch(self, call: HotCall, body: bytes, path: str, reply: Callable[[int, bytes], None],
                 obj: Any = None) -> None:
        """Answer off the event loop (the writer thread on SQLite, else the default executor);
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

            group = self._writer_group if obj is not None and call.fast_only(obj) else None
            self.writer.submit(self.answer, (call, body, path, obj), done, group)
        else:
            def finished(f: asyncio.Future[tuple[int, bytes]]) -> None:
                exc = f.exception()
                reply(*(f.result() if exc is None else self.failure(exc, path)))

            future = loop.run_in_executor(None, self.answer, call, body, path, obj)
            future.add_done_callback(finished)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.stop()


_JSON_HEAD = [(b"content-type", b"application/json")]
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan (it lasts as long as the server) and websockets
            await self.app(scope, receive, send)
            return
        call = self.hot.calls.get((scope["method"], scope["path"]))
        if call is not None and not scope.get("root_path"):
            await self._answer(call, scope, receive, send)
            return
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
            obj = hot.decode(call, body)
        except Exception as exc:  # noqa: BLE001  (a bad body: answered here, as the routes would)
            await _reply(send, *hot.failure(exc, path))
            return
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        if not self.others and hot.may_answer_now(len(body)):
            # Nothing else in flight: answering on the loop costs less than the hop to the writer
            # thread. Answered once the loop has run every request that is ready, so calls that
            # arrive together are committed together (one fsync; see _answer_ready).
            if not hot.ready:
                loop.call_soon(_answer_ready, hot)
            hot.ready.append((answer, call, obj, path))
        else:
            hot.dispatch(call, b"", path, functools.partial(_settle_answer, answer), obj)
        await _reply(send, *await answer)


async def _reply(send: Send, status: int, payload: bytes, close: bool = False) -> None:
    headers = [*_JSON_HEAD, (b"content-length", str(len(payload)).encode())]
    if close:
        headers.append(_CLOSE)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _settle_answer(answer: asyncio.Future[tuple[int, bytes]], status: int, payload: bytes) -> None:
    if not answer.done():
        answer.set_result((status, payload))


def _answer_ready(hot: HotPath) -> None:
    """Answer the calls that arrived in this turn of the loop: one alone (:meth:`HotPath.answer_now`),
    several in one transaction with one commit (:meth:`HotPath.answer_group`). Those that cannot
    run on the loop — another connection holds the write lock, or a call writes outside fast
    transactions — go to the writer thread."""
    ready, hot.ready = hot.ready, []
    here: list[tuple[asyncio.Future[tuple[int, bytes]], HotCall, Any, str]] = []
    elsewhere: list[tuple[asyncio.Future[tuple[int, bytes]], HotCall, Any, str]] = []
    for item in ready:
        (here if item[1].fast_only(item[2]) else elsewhere).append(item)
    if len(here) > 1 and hot.groups:
        outcomes = hot.answer_group([(call, obj, path) for _, call, obj, path in here])
        if outcomes is None:
            elsewhere = here + elsewhere
        else:
            for (answer, _, _, _), outcome in zip(here, outcomes):
                _settle_answer(answer, *outcome)
    else:  # one call, or a database whose calls cannot share a transaction: one by one
        for item in here:
            answer, call, obj, path = item
            answered = hot.answer_now(call, obj, path)
            if answered is None:
                elsewhere.append(item)
            else:
                _settle_answer(answer, *answered)
    for answer, call, obj, path in elsewhere:  # after the group: the writer thread would hold the lock
        hot.dispatch(call, b"", path, functools.partial(_settle_answer, answer), obj)
