"""Background batching of metric points.

``log_metric`` only validates and enqueues; a thread sends what has queued up
in one request per run. ``flush`` waits for everything queued so far. An error
while sending is kept for the run it belongs to and raised at that run's next
call (or at its ``flush``/``end_run``), never swallowed and never blamed on
another run.
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
        self._errors: dict[str, list[BaseException]] = {}
        self._closed = False
        self._thread: threading.Thread | None = None

    def add(self, run_id: str, metrics: Sequence[Metric]) -> None:
        """Queue points of ``run_id``; then raise an earlier failure of that run, if any."""
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="modelyard-metrics", daemon=True)
                self._thread.start()
            self._pending.setdefault(run_id, []).extend(metrics)
            self._count += len(metrics)
            self._queued += len(metrics)
            if self._count >= self._max_pending:
                self._cond.notify_all()
        self.raise_error(run_id)

    def flush(self, run_id: str | None = None) -> None:
        """Block until every point queued so far is sent; raise the pending errors of
        ``run_id`` (of every run when None)."""
        with self._cond:
            target = self._queued
            self._cond.notify_all()
            while self._done < target and self._thread is not None and self._thread.is_alive():
                self._cond.wait(0.05)
        self.raise_error(run_id)

    def raise_error(self, run_id: str | None = None) -> None:
        """Raise (and forget) the first pending error of ``run_id`` (any run when None);
        further errors of the same run are chained as its context."""
        with self._cond:
            if run_id is None:
                errors = [e for errs in self._errors.values() for e in errs]
                self._errors.clear()
            else:
                errors = self._errors.pop(run_id, [])
        if errors:
            first = errors[0]
            if len(errors) > 1 and first.__context__ is None:
                first.__context__ = errors[-1]
            raise first

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
                except BaseException as exc:  # kept for the run's owner, never swallowed
                    with self._cond:
                        self._errors.setdefault(run_id, []).append(exc)
            with self._cond:
                self._done += n
                self._cond.notify_all()
