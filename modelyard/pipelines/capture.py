"""Per-step capture of stdout and stderr, also for steps running in parallel threads.

While a pipeline runs, ``sys.stdout``/``sys.stderr`` are routers: a write goes to
the buffer of the step running in the current thread (a ContextVar), and also
to the original stream when ``tee`` is on.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_buffers: contextvars.ContextVar[tuple[list[str], list[str]] | None] = contextvars.ContextVar(
    "modelyard_step_output", default=None
)
_lock = threading.Lock()
_installed = 0


class _Router:
    def __init__(self, original: Any, index: int, tee: bool) -> None:
        self._original = original
        self._index = index
        self._tee = tee

    def write(self, text: str) -> int:
        bufs = _buffers.get()
        if bufs is not None:
            bufs[self._index].append(text)
            if not self._tee:
                return len(text)
        return int(self._original.write(text))

    def flush(self) -> None:
        self._original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


@contextmanager
def routing(tee: bool = True) -> Iterator[None]:
    """Install the routers for the duration of a pipeline run (re-entrant)."""
    global _installed
    with _lock:
        if _installed == 0:
            sys.stdout = _Router(sys.stdout, 0, tee)
            sys.stderr = _Router(sys.stderr, 1, tee)
        _installed += 1
    try:
        yield
    finally:
        with _lock:
            _installed -= 1
            if _installed == 0:
                for name in ("stdout", "stderr"):
                    stream = getattr(sys, name)
                    if isinstance(stream, _Router):
                        setattr(sys, name, stream._original)


@contextmanager
def capture() -> Iterator[tuple[list[str], list[str]]]:
    """Collect what the current thread/task writes to stdout and stderr."""
    bufs: tuple[list[str], list[str]] = ([], [])
    token = _buffers.set(bufs)
    try:
        yield bufs
    finally:
        _buffers.reset(token)
