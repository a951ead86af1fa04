"""Several schedulers over one store, for the lease tests: each stands for one server process.

Each :class:`Server` has its own service over the shared store (SQLite and
PostgreSQL), a hand-moved clock, and a launcher that records what it would have
started (a :class:`Child`, alive until the test sets its exit code).
"""

from __future__ import annotations

import threading

from modelyard.server.workers.scheduler import Scheduler
from modelyard.service import TrackingService

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z


class Child:
    """What the launcher returns: a run's process, alive until told otherwise."""

    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.exit_code: int | None = None

    def poll(self) -> int | None:
        return self.exit_code

    def arg(self, flag: str) -> str:
        return self.args[self.args.index(flag) + 1]

    @property
    def tick_id(self) -> int:
        return int(self.arg("--tick-id"))

    @property
    def event_id(self) -> int:
        return int(self.arg("--event-id"))


class Server:
    """A scheduler on its own service over the shared store."""

    def __init__(self, service: TrackingService, clock: list[int]) -> None:
        self.service = service
        self.started: list[Child] = []
        self._lock = threading.Lock()
        self.scheduler = Scheduler(service, clock=lambda: clock[0] / 1000, launcher=self._launch,
                                   tracking_uri="http://x")

    def _launch(self, args: list[str]) -> Child:
        child = Child(args)
        with self._lock:
            self.started.append(child)
        return child

    def tick(self) -> int:
        return self.scheduler.tick()
