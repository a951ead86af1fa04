"""``@step``: a plain function that, called inside a running pipeline, becomes a task.

Inside a pipeline a call returns a :class:`Handle` at once; pass handles to later
steps (they run when their inputs are ready, independent ones in parallel), or use
a handle's value in Python (``if h:``, ``for x in h``, ``h.result()``), which waits
for it. Outside a pipeline a step is just its function.

>>> @my.step(retries=2, timeout=600)
... def train(data: pd.DataFrame, lr: float = 0.1) -> float: ...
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
import typing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Any, cast, overload

from .errors import PipelineCheckError, Problem

_local = threading.local()


def current_context() -> Any:
    """The pipeline run the current thread is building, or None."""
    return getattr(_local, "context", None)


def caller_location(depth: int = 2) -> tuple[str, int]:
    frame = sys._getframe(depth)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("modelyard.pipelines"):
        frame = frame.f_back  # type: ignore[assignment]
    return (frame.f_code.co_filename, frame.f_lineno) if frame is not None else ("<unknown>", 0)


class Handle:
    """The future output of a step call. Using its value waits for it."""

    __slots__ = ("__weakref__", "context", "future", "ref", "step_name", "task_key")

    def __init__(self, task_key: str, step_name: str, context: Any) -> None:
        self.task_key = task_key
        self.step_name = step_name
        self.context = context
        self.future: Future[Any] = Future()
        self.ref: dict[str, Any] | None = None  # the stored output, once recorded

    def result(self, timeout: float | None = None) -> Any:
        """The step's output value (waits; raises StepFailed if the step failed)."""
        return self.context.value_of(self, timeout)

    def done(self) -> bool:
        return self.future.done()

    def __repr__(self) -> str:
        state = "done" if self.future.done() else "pending"
        return f"<Handle {self.task_key} {state}>"

    # Using the value in Python waits for it: dynamic pipelines.
    def __bool__(self) -> bool:
        return bool(self.result())

    def __iter__(self) -> Iterator[Any]:
        return iter(self.result())

    def __len__(self) -> int:
        return len(self.result())

    def __getitem__(self, item: Any) -> Any:
        return self.result()[item]

    def __contains__(self, item: Any) -> bool:
        return item in self.result()

    def __int__(self) -> int:
        return int(self.result())

    def __float__(self) -> float:
        return float(self.result())

    def __index__(self) -> int:
        return int(self.result())

    def __eq__(self, other: object) -> bool:
        return bool(self.result() == _value(other))

    def __ne__(self, other: object) -> bool:
        return bool(self.result() != _value(other))

    def __lt__(self, other: Any) -> bool:
        return bool(self.result() < _value(other))

    def __le__(self, other: Any) -> bool:
        return bool(self.result() <= _value(other))

    def __gt__(self, other: Any) -> bool:
        return bool(self.result() > _value(other))

    def __ge__(self, other: Any) -> bool:
        return bool(self.result() >= _value(other))

    __hash__ = object.__hash__


def _value(x: Any) -> Any:
    return x.result() if isinstance(x, Handle) else x


def find_handles(value: Any, out: list[Handle] | None = None, depth: int = 0) -> list[Handle]:
    """Handles in ``value``, looking into lists, tuples and dict values."""
    out = [] if out is None else out
    if isinstance(value, Handle):
        out.append(value)
    elif depth < 4 and isinstance(value, (list, tuple)):
        for v in value:
            find_handles(v, out, depth + 1)
    elif depth < 4 and isinstance(value, dict):
        for v in value.values():
            find_handles(v, out, depth + 1)
    return out


class Step:
    """A step: its function plus how to run it (cache, retries, timeout, hooks, version)."""

    _is_pipeline_object = True

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        cache: bool = True,
        version: str | None = None,
        retries: int = 0,
        retry_delay: float = 1.0,
        backoff: float = 2.0,
        max_delay: float = 60.0,
        jitter: float = 0.25,
        timeout: float | None = None,
        on_failure: Callable[..., Any] | Iterable[Callable[..., Any]] | None = None,
    ) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name or fn.__name__
        self.cache = cache
        self.version = version
        self.retries = int(retries)
        self.retry_delay = float(retry_delay)
        self.backoff = float(backoff)
        self.max_delay = float(max_delay)
        self.jitter = float(jitter)
        self.timeout = timeout
        hooks = on_failure if isinstance(on_failure, Iterable) else ([on_failure] if on_failure else [])
        self.on_failure: list[Callable[..., Any]] = list(hooks)
        self.signature = inspect.signature(fn)
        try:
            self.hints = typing.get_type_hints(fn)
        except Exception:
            self.hints = dict(getattr(fn, "__annotations__", {}))
        code = fn.__code__
        self.location = (code.co_filename, code.co_firstlineno)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        ctx = current_context()
        if ctx is None:
            handles = find_handles(list(args) + list(kwargs.values()))
            if handles:
                file, line = caller_location()
                raise PipelineCheckError([Problem(file, line, "handle-outside-pipeline",
                    f"step {self.name!r} is given the handle of {handles[0].task_key!r} outside a running pipeline; "
                    "handles only exist while their pipeline runs (use handle.result() for the value)")])
            return self.fn(*args, **kwargs)
        return ctx.submit(self, args, kwargs)

    def map(self, items: Any, /, **kwargs: Any) -> list[Any]:
        """Fan out: one call per item (the first parameter), other arguments shared.

        ``items`` may be a handle (its value is awaited) or a list of handles.
        """
        ctx = current_context()
        if isinstance(items, Handle):
            items = items.result()
        if ctx is None:
            return [self.fn(item, **kwargs) for item in items]
        return cast("list[Any]", ctx.submit_map(self, list(items), kwargs))

    def __repr__(self) -> str:
        return f"<Step {self.name}>"


@overload
def step(fn: Callable[..., Any], /) -> Step: ...
@overload
def step(
    *, name: str | None = ..., cache: bool = ..., version: str | None = ..., retries: int = ..., retry_delay: float = ...,
    backoff: float = ..., max_delay: float = ..., jitter: float = ..., timeout: float | None = ...,
    on_failure: Any = ...,
) -> Callable[[Callable[..., Any]], Step]: ...


def step(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Declare a pipeline step (usable bare, ``@step``, or with options, ``@step(retries=3)``).

    Options: ``cache`` (default True), ``version`` (part of the cache key), ``retries``,
    ``retry_delay``/``backoff``/``max_delay``/``jitter`` (exponential backoff, jitter a
    fraction), ``timeout`` (seconds), ``on_failure`` (hooks called with a StepFailure).
    """
    if fn is not None:
        return Step(fn)
    return lambda f: Step(f, **options)
