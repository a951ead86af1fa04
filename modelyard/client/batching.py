"""Background batching of metric points.

``log_metric`` only validates and enqueues; a thread sends what has queued up
in one request per run. ``flush`` waits for everything queued so far. An error
while sending is kept and raised at the next call (or at ``flush``), never
swallowed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from ..entities import Metric

Send = Callable[[str, Sequence[Metric]], None]


class MetricBatcher:
    def __init__(self, send: Send, *, interval: float = 0.25, max_pending: int = 50_000) -> None:
        self._send = send
        self._interval = interval
        self._max_pending = max_pending
        self._cond = threading.Condition()
        self._pending: dict[str, list[Metric]] = {}
        self._count = 0
        self._queued = 0  # points ever queued
        self._done = 0  # points sent or failed
        self._error: BaseException | None = None
        self._closed = False
        self._thread: threading.Thread | None = None

    def add(self, run_id: str, metrics: Sequence[Metric]) -> None:
        self.raise_error()
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="modelyard-metrics", daemon=True)
                self._thread.start()
            self._pending.setdefault(run_id, []).extend(metrics)
            self._count += len(metrics)
            self._queued += len(metrics)
            if self._count >= self._max_pending:
                self._cond.notify_all()

    def flush(self) -> None:
        """Block until every point queued so far is sent; raise a pending error."""
        with self._cond:
            target = self._queued
            self._cond.notify_all()
            while self._done < target and self._thread is not None and self._thread.is_alive():
                self._cond.wait(0.05)
        self.raise_error()

    def raise_error(self) -> None:
        with self._cond:
            err, self._error = self._error, None
        if err is not None:
            raise err

    def close(self) -> None:
        try:
            self.flush()
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._pending:
                    if self._closed:
                        return
                    self._cond.wait(self._interval)
                batch, self._pending, n = self._pending, {}, self._count
                self._count = 0
            for run_id, metrics in batch.items():
                try:
                    self._send(run_id, metrics)
                except BaseException as exc:  # kept for the caller, never swallowed
                    with self._cond:
                        if self._error is None:
                            self._error = exc
            with self._cond:
                self._done += n
                self._cond.notify_all()
