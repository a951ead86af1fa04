"""The monitor scheduler: runs due monitors, each run once across server processes.

Every ``monitor_poll_interval`` seconds each server process asks the service to
run the monitors whose ``next_run_ms`` has come
(:meth:`~modelyard.service.monitoring.MonitoringService.run_due`). A monitor
is claimed with a lease in the database (a compare-and-set ``UPDATE``), so of
several processes exactly one runs it; its result commits with its alerts and
the next run time, releasing the lease. A process that dies mid-run leaves the
lease to expire, and another runs the monitor then. Runs happen in a thread,
never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger("modelyard.server.monitors")


class MonitorScheduler:
    def __init__(self, service: Any, interval: float | None = None) -> None:
        self.monitoring = service.monitoring
        self.interval = service.settings.monitor_poll_interval if interval is None else interval
        self.rounds = 0
        self._stopping = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="modelyard-monitors")

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.to_thread(self.monitoring.run_due)
            except Exception:  # the store is unreachable for now: log, wait, try again
                log.exception("monitor round failed")
            self.rounds += 1
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)

    async def stop(self) -> None:
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 30)
        except asyncio.TimeoutError:  # a long run: its lease runs out and another process runs it again
            self._task.cancel()


def start(service: Any) -> MonitorScheduler | None:
    if service.settings.monitor_poll_interval <= 0:
        return None
    return MonitorScheduler(service)
