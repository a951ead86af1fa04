"""The retention worker: deletes served requests and feedback older than the request log's retention,
and each experiment's traces older than its trace retention (``service/trace_retention.py``).

Started only when ``request_log_retention_days`` or ``trace_retention_days`` is set, or (looked at
once at start-up) an experiment carries the tag ``modelyard.traces.retention_days``. It purges once soon
after start-up, then every :data:`INTERVAL` seconds, in a thread (the store is
synchronous), in transactions of a few thousand rows so writers never wait
long. Several server processes may all run it: a delete of old rows is the
same whoever runs it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from ...service.gc import DAY_MS, purge_request_log
from ...service.trace_retention import has_retention, purge_traces

log = logging.getLogger("modelyard.server.retention")
INTERVAL = 3600.0  # seconds between purges
FIRST_DELAY = 5.0  # seconds after start-up: let the server answer first


class RetentionWorker:
    """Purge the request log of ``service`` every ``interval`` seconds (tests pass their own, and a clock)."""

    def __init__(self, service: Any, days: float, interval: float = INTERVAL, first_delay: float = FIRST_DELAY,
                 clock: Callable[[], int] | None = None, traces: bool = False) -> None:
        self.service = service
        self.age_ms = int(days * DAY_MS)  # 0: the request log is kept
        self.traces = traces  # whether to apply trace retention too
        self.traces_deleted = 0
        self.interval = interval
        self.clock = clock
        self.rounds = 0  # purges run
        self.deleted = 0  # requests deleted, all rounds
        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(first_delay), name="modelyard-retention")

    async def _run(self, delay: float) -> None:
        while not await self._sleep(delay):
            if self.age_ms > 0:
                await self._request_log()
            if self.traces:
                await self._traces()
            self.rounds += 1
            delay = self.interval

    async def _request_log(self) -> None:
        try:
            requests, feedback = await asyncio.to_thread(purge_request_log, self.service, self.age_ms, self.clock)
        except Exception:  # the store is unreachable for now: try again next round
            log.exception("request log retention round failed")
        else:
            self.deleted += requests
            if requests or feedback:
                log.info("request log retention: deleted %d requests and %d feedback rows", requests, feedback)

    async def _traces(self) -> None:
        try:
            report = await asyncio.to_thread(purge_traces, self.service, None, self.clock)
        except Exception:
            log.exception("trace retention round failed")
        else:
            self.traces_deleted += report.traces
            if report.traces:
                log.info("trace retention: deleted %d traces (%s)", report.traces, report.by_experiment)
            for exp, value in report.bad_tags.items():
                log.warning("experiment %s: tag modelyard.traces.retention_days=%r is not a number of days", exp, value)

    async def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds``; True if stopped meanwhile."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()

    async def stop(self) -> None:
        self._stop.set()
        await self._task


def start(service: Any) -> RetentionWorker | None:
    days = service.settings.request_log_retention_days
    traces = has_retention(service)
    return RetentionWorker(service, days, traces=traces) if days > 0 or traces else None
