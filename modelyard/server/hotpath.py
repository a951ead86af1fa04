"""A short path for MLflow's small write calls: straight from ASGI to the service.

``log-metric``, ``log-batch``, ``runs/create``, ``set-tag``, ``log-parameter``
and ``runs/update`` are most of what a training script sends, each a few
hundred microseconds of work. Starlette's middleware, ``Request``/``Response``
objects and router cost a good part of that, so :class:`HotPath` answers these
calls itself: it reads the body from ``receive``, decodes it with the same
schema as the route, runs the same route function, and sends the head and body
in two messages. Errors get the same JSON bodies and statuses as the routes
(:func:`.failures.error_payload`), and bodies the same limits.

The store is synchronous, so the call runs off the event loop: on SQLite in
one writer thread (SQLite takes one writer at a time anyway; a thread of our
own is cheaper to reach than the general pool), elsewhere in the thread pool.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from ..errors import ModelyardError
from . import schemas as s
from .failures import error_payload
from .protocol import batch_too_large, decode_body, receive_body, too_large
from .routes import runs


class Call(NamedTuple):
    """One route's schema, function and body limit, as its entry in ``routes/runs.py``."""

    schema: type[msgspec.Struct]
    fn: Callable[[Any, Any], Any]
    max_bytes_setting: str = "max_request_bytes"
    on_too_large: Callable[[int, int], ModelyardError] = too_large


CALLS = {
    "/runs/create": Call(s.CreateRun, runs.create),
    "/runs/update": Call(s.UpdateRun, runs.update),
    "/runs/log-metric": Call(s.LogMetric, runs.log_metric),
    "/runs/log-parameter": Call(s.LogParam, runs.log_param),
    "/runs/set-tag": Call(s.SetTag, runs.set_tag),
    "/runs/log-batch": Call(s.LogBatch, runs.log_batch, "max_log_batch_bytes", batch_too_large),
}

_encode = msgspec.json.Encoder().encode
_EMPTY = _encode({})
_JSON = (b"content-type", b"application/json")


class WriterThread:
    """One thread that runs calls in arrival order; ``await writer.run(fn, *args)`` from any loop."""

    def __init__(self, name: str = "modelyard-writer") -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._thread is None:
            self._start()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._jobs.put((loop, future, fn, args))
        return await future

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            loop, future, fn, args = job
            try:
                outcome = (fn(*args), None)
            except BaseException as exc:  # noqa: BLE001  (handed to the awaiting request, which answers it)
                outcome = (None, exc)
            try:
                loop.call_soon_threadsafe(_settle, future, *outcome)
            except RuntimeError:  # the loop closed while we worked: nobody is waiting
                pass
            del job, future, outcome

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
    """``await hot(scope, receive, send)`` answers the call if ``hot.find(scope)`` named it."""

    def __init__(self, service: Any, prefixes: tuple[str, ...]) -> None:
        self.service = service
        self.settings = service.settings
        self.routes: dict[str, Call] = {prefix + path: call for prefix in prefixes for path, call in CALLS.items()}
        self.writer = WriterThread() if service.store.db.is_sqlite else None

    def find(self, scope: Scope) -> Call | None:
        if scope["method"] != "POST" or scope.get("root_path"):
            return None
        return self.routes.get(scope["path"])

    async def __call__(self, call: Call, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            limit = getattr(self.settings, call.max_bytes_setting)
            body = await receive_body(scope, receive, limit, call.on_too_large)
            if body is None:
                return  # the client went away
            obj = decode_body(body, call.schema, limit, call.on_too_large)
            if self.writer is not None:
                result = await self.writer.run(call.fn, self.service, obj)
            else:
                result = await run_in_threadpool(call.fn, self.service, obj)
            status, payload = 200, _EMPTY if result is None else _encode(result)
        except Exception as exc:  # noqa: BLE001  (every error is answered, as Starlette's handlers do)
            status, content = error_payload(exc, scope["method"], scope["path"])
            payload = _encode(content)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", str(len(payload)).encode()), _JSON]})
        await send({"type": "http.response.body", "body": payload})

    def close(self) -> None:
        if self.writer is not None:
            self.writer.stop()
