"""A short path for MLflow's small write calls: straight from ASGI to the service.

``log-metric``, ``log-batch``, ``runs/create``, ``set-tag``, ``log-parameter``
and ``runs/update`` are most of what a training script sends, each a few
hundred microseconds of work. Starlette's middleware, ``Request``/``Response``
objects and router cost a good part of that, so the server's HTTP protocol
(:mod:`.http_protocol`) reads such a body itself, under the rules of the app's
guard (:mod:`modelyard.web.guard`), and :class:`HotPath` decodes it with the same
schema as the route, runs the same route function and encodes the answer.
Errors get the same JSON bodies and statuses as the routes
(:func:`.failures.error_payload`), and bodies the same limits. Through ASGI
the same calls take the routes, behind the app's middleware.

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
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec
from starlette.types import Scope

from ..api import schemas as s
from ..api.operations import API, all_operations
from ..errors import ModelyardError
from .failures import error_payload, is_busy
from .operations import TOO_LARGE
from .protocol import decode_body, too_large


class Call(NamedTuple):
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

# The table's hot operations (``hot=True`` in modelyard.api), by path under the MLflow prefix.
CALLS = {
    op.path.removeprefix(API): Call(op.request, op.resolve(), op.max_bytes_setting, TOO_LARGE[op.too_large],
                                    _FAST_ONLY.get(op.name, lambda req: True))
    for op in all_operations() if op.hot
}

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
    """Answers the calls in :data:`CALLS` for :mod:`.http_protocol`, with a body already read
    (``hot.dispatch(call, body, reply)``, :meth:`answer_now`, :meth:`answer_group`)."""

    def __init__(self, service: Any, prefixes: tuple[str, ...]) -> None:
        self.service = service
        self.settings = service.settings
        self.routes: dict[str, Call] = {prefix + path: call for prefix in prefixes for path, call in CALLS.items()}
        self.writer = WriterThread() if service.store.db.is_sqlite else None
        self.inline = bool(self.settings.inline_small_requests)
        self._inline_paused_until = 0.0
        self._inline_average = 0.0  # seconds per call run on the loop, weighted towards the last ones
        # Calls that arrived in this turn of the event loop, answered together once it has read
        # every ready connection (see http_protocol): (protocol, cycle, decoded request).
        self.ready: list[tuple[Any, Any, Any]] = []
        # Whether calls may share a transaction (a SQLite file; not an in-memory database), and one
        # bound method for every submit: the writer thread groups jobs by this object's identity.
        self.groups = service.store.db.can_group
        self._writer_group = self._answer_queued if self.groups else None

    def find(self, scope: Scope) -> Call | None:
        if scope["method"] != "POST" or scope.get("root_path"):
            return None
        return self.routes.get(scope["path"])

    def limit(self, call: Call) -> int:
        """The most body bytes ``call`` accepts."""
        return int(getattr(self.settings, call.max_bytes_setting))

    def too_large(self, call: Call, size: int) -> tuple[int, bytes]:
        """The answer to a body of ``size`` bytes (or more) over ``call``'s limit."""
        return self.failure(call.on_too_large(size, self.limit(call)), "")

    def decode(self, call: Call, body: bytes) -> Any:
        """The request object for ``call``; raises the error to answer for a bad or oversize body."""
        return decode_body(body, call.schema, self.limit(call), call.on_too_large)

    def _exec(self, call: Call, obj: Any) -> tuple[int, bytes]:
        result = call.fn(self.service, obj)
        return 200, _EMPTY if result is None else _encode(result)

    def answer(self, call: Call, body: bytes, path: str = "", obj: Any = None) -> tuple[int, bytes]:
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

    def answer_now(self, call: Call, obj: Any, path: str) -> tuple[int, bytes] | None:
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

    def answer_group(self, calls: list[tuple[Call, Any, str]], wait: bool = False) -> list[tuple[int, bytes]] | None:
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

    def _answer_queued(self, jobs: list[tuple[Call, bytes, str, Any]]) -> list[tuple[int, bytes]]:
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

    def dispatch(self, call: Call, body: bytes, path: str, reply: Callable[[int, bytes], None],
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
