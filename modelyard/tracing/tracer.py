"""Live spans, the current span of each thread and asyncio task, and the background sender."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import json
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from ..client import fluent
from ..client import prompts as _prompts
from ..client.client import Client
from ..entities.prompts import LINKED_PROMPTS_TAG
from ..entities.traces import Span, TraceInfo

F = TypeVar("F", bound=Callable[..., Any])
_current: contextvars.ContextVar[LiveSpan | None] = contextvars.ContextVar("modelyard_span", default=None)
_linked_run: contextvars.ContextVar[str | None] = contextvars.ContextVar("modelyard_trace_run", default=None)
_last_trace_id: str | None = None
PREVIEW_CHARS = 1000
BATCH_TRACES = 200  # traces sent together at most (one span request, then their infos)


def _plain(value: Any) -> Any:
    """``value`` as JSON data (anything else as its ``str``), as MLflow records inputs and outputs."""
    return json.loads(json.dumps(value, default=str))


class _LiveTrace:
    def __init__(self, client: Client, experiment_id: str) -> None:
        self.client = client
        self.experiment_id = experiment_id
        self.otel_id = os.urandom(16).hex()
        self.trace_id = "tr-" + self.otel_id
        self.spans: list[Span] = []
        self.tags: dict[str, str] = {}
        self.metadata: dict[str, str] = {}


class LiveSpan:
    """A span being recorded: set its inputs, outputs, attributes and status while it runs."""

    def __init__(self, trace: _LiveTrace, name: str, span_type: str, parent: LiveSpan | None) -> None:
        self._trace = trace
        self.name = name
        self.span_id = os.urandom(8).hex()
        self.parent_id = parent.span_id if parent else None
        self.start_time_ns = time.time_ns()
        self.attributes: dict[str, Any] = {"mlflow.spanType": span_type}
        self.status = "OK"
        self.status_message: str | None = None
        self.events: list[dict[str, Any]] = []

    @property
    def trace_id(self) -> str:
        return self._trace.trace_id

    def set_inputs(self, inputs: Any) -> None:
        self.attributes["mlflow.spanInputs"] = _plain(inputs)

    def set_outputs(self, outputs: Any) -> None:
        self.attributes["mlflow.spanOutputs"] = _plain(outputs)

    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = _plain(value)

    def set_status(self, status: str, message: str | None = None) -> None:
        """``OK`` or ``ERROR`` (with a message)."""
        self.status = status.upper()
        self.status_message = message

    def _end(self, error: BaseException | None) -> Span:
        if error is not None:
            self.status, self.status_message = "ERROR", f"{type(error).__name__}: {error}"
            self.events.append({"name": "exception", "time_unix_nano": time.time_ns(), "attributes": {
                "exception.type": type(error).__name__, "exception.message": str(error)}})
        span_type = self.attributes.get("mlflow.spanType")
        return Span(self._trace.trace_id, self.span_id, self.parent_id, self.name,
                    span_type if isinstance(span_type, str) else None, self.status, self.status_message,
                    self.start_time_ns, time.time_ns(), self.attributes, self.events or None, self._trace.otel_id)


@contextlib.contextmanager
def start_span(name: str, span_type: str = "UNKNOWN", attributes: dict[str, Any] | None = None) -> Iterator[LiveSpan]:
    """Record a span around the block; outside any span it starts a new trace in the active experiment."""
    parent = _current.get()
    if parent is None:
        run = fluent.active_run()
        trace = _LiveTrace(fluent.get_client(), fluent.default_experiment_id())
        run_id = _linked_run.get() or (run.info.run_id if run is not None else None)
        if run_id is not None:
            trace.metadata["mlflow.sourceRun"] = run_id
    else:
        trace = parent._trace
    span = LiveSpan(trace, name, span_type, parent)
    for key, value in (attributes or {}).items():
        span.set_attribute(key, value)
    token = _current.set(span)
    error: BaseException | None = None
    try:
        yield span
    except BaseException as exc:
        error = exc
        raise
    finally:
        _current.reset(token)
        trace.spans.append(span._end(error))
        if parent is None:
            _send(trace, trace.spans[-1])


@contextlib.contextmanager
def traces_linked_to(run_id: str) -> Iterator[None]:
    """Traces started in the block belong to run ``run_id`` (as if it were the active run): an evaluation's judges."""
    token = _linked_run.set(run_id)
    try:
        yield
    finally:
        _linked_run.reset(token)


def trace(func: F | None = None, *, name: str | None = None, span_type: str = "UNKNOWN") -> Any:
    """Decorate a function (sync or async) so each call is a span with its arguments and result."""

    def wrap(fn: F) -> F:
        span_name = name or fn.__name__
        signature = inspect.signature(fn)

        def inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                return {"args": list(args), **kwargs}
            return dict(bound.arguments)

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with start_span(span_name, span_type) as span:
                    span.set_inputs(inputs(args, kwargs))
                    result = await fn(*args, **kwargs)
                    span.set_outputs(result)
                    return result
            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with start_span(span_name, span_type) as span:
                span.set_inputs(inputs(args, kwargs))
                result = fn(*args, **kwargs)
                span.set_outputs(result)
                return result
        return run  # type: ignore[return-value]

    return wrap(func) if func is not None else wrap


SESSION_KEY = "mlflow.trace.session"
USER_KEY = "mlflow.trace.user"


def update_current_trace(tags: dict[str, str] | None = None, metadata: dict[str, str] | None = None,
                         session_id: str | None = None, user: str | None = None) -> None:
    """Add tags or metadata to the trace of the current span; ``session_id`` and ``user`` say whose
    conversation it belongs to (metadata ``mlflow.trace.session`` / ``mlflow.trace.user``, as MLflow)."""
    span = _current.get()
    if span is None:
        raise RuntimeError("update_current_trace needs an active span: call it inside @my.trace or my.start_span")
    span._trace.tags.update({k: str(v) for k, v in (tags or {}).items()})
    span._trace.metadata.update({k: str(v) for k, v in (metadata or {}).items()})
    if session_id is not None:
        span._trace.metadata[SESSION_KEY] = str(session_id)
    if user is not None:
        span._trace.metadata[USER_KEY] = str(user)


def _link_loaded_prompt(version: Any) -> None:
    """A prompt loaded inside a span is linked to its trace (tag ``mlflow.linkedPrompts``, as MLflow's client)."""
    span = _current.get()
    if span is not None:
        tags = span._trace.tags
        tags[LINKED_PROMPTS_TAG] = _prompts.linked_prompts_tag(tags.get(LINKED_PROMPTS_TAG), version)


_prompts.loaded_hooks.append(_link_loaded_prompt)


def last_trace_id() -> str | None:
    """The id of the last trace this process finished."""
    return _last_trace_id


def _preview(value: Any) -> str | None:
    if value is None:
        return None
    text = json.dumps(value) if not isinstance(value, str) else value
    return text[:PREVIEW_CHARS]


def _send(trace: _LiveTrace, root: Span) -> None:
    global _last_trace_id
    end = root.end_time_ns or root.start_time_ns
    info = TraceInfo(
        trace.trace_id, trace.experiment_id, root.start_time_ns // 1_000_000,
        (end - root.start_time_ns) // 1_000_000, "ERROR" if root.status == "ERROR" else "OK",
        _preview(root.attributes.get("mlflow.spanInputs")), _preview(root.attributes.get("mlflow.spanOutputs")),
        tags={"mlflow.traceName": root.name, **trace.tags}, metadata=trace.metadata,
    )
    _last_trace_id = trace.trace_id
    _sender().put(trace.client, trace.experiment_id, trace.spans, info)


class _Sender:
    """One daemon thread that stores finished traces in order; errors are kept for :func:`flush`."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[Client, str, list[Span], TraceInfo]] = queue.Queue(maxsize=10_000)
        self.error: BaseException | None = None
        threading.Thread(target=self._loop, name="modelyard-traces", daemon=True).start()

    def put(self, client: Client, experiment_id: str, spans: list[Span], info: TraceInfo) -> None:
        self.queue.put((client, experiment_id, spans, info))

    def _loop(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < BATCH_TRACES:  # what queued up meanwhile goes in the same requests
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            groups: dict[tuple[int, str], list[tuple[list[Span], TraceInfo]]] = {}
            clients: dict[int, Client] = {}
            for client, experiment_id, spans, info in batch:
                clients[id(client)] = client
                groups.setdefault((id(client), experiment_id), []).append((spans, info))
            for (client_id, experiment_id), traces in groups.items():
                try:
                    clients[client_id].log_traces(experiment_id, traces)
                except BaseException as exc:  # kept for flush(): a background error must not be lost
                    self.error = self.error or exc
            for _ in batch:
                self.queue.task_done()


_the_sender: _Sender | None = None
_sender_lock = threading.Lock()


def _sender() -> _Sender:
    global _the_sender
    with _sender_lock:
        if _the_sender is None:
            _the_sender = _Sender()
        return _the_sender


def flush() -> None:
    """Wait until every finished trace is stored; raise the first error of a background send."""
    sender = _sender()
    sender.queue.join()
    error, sender.error = sender.error, None
    if error is not None:
        raise error
