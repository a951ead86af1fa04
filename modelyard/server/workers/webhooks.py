"""The webhook outbox worker: sends due deliveries from every server process, each delivery once.

It is woken at once when a change in this process enqueues deliveries (the
registry store writes the outbox in the change's own transaction, then calls
its listeners). Otherwise it sleeps until the next pending delivery falls due
(a retry's time, another process's expired claim), but at most
``poll_interval`` seconds while anything is pending, and :data:`IDLE_INTERVAL`
(5 s) while the outbox holds nothing to send: the bound for deliveries
enqueued by other processes (several server processes, the embedded SDK over
the same database), so an idle server costs one query every 5 s.

Sending runs in a thread (the HTTP calls and the store are synchronous), never
on the event loop, so an API call never waits for a receiver. Claims live in
the database (:meth:`~modelyard.store.webhooks.WebhooksStore.claim_due`), so
several processes share the work without sending anything twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("modelyard.server.webhooks")
MIN_WAIT = 0.05  # seconds: the shortest sleep after a round that sent nothing
IDLE_INTERVAL = 5.0  # seconds between polls while nothing is pending: the bound for other processes' deliveries


class WebhookWorker:
    """Deliver due webhook events until stopped.

    ``poll_interval`` (seconds, the longest sleep while deliveries are pending)
    and ``clock`` (milliseconds since the epoch) default to the service's;
    ``idle_interval`` (the longest sleep while none is) to :data:`IDLE_INTERVAL`,
    or ``poll_interval`` if that is longer. Tests pass their own.
    """

    def __init__(self, service: Any, poll_interval: float | None = None, clock: Callable[[], int] | None = None,
                 idle_interval: float | None = None) -> None:
        self.webhooks = service.webhooks
        self.poll_interval = self.webhooks.poll_interval if poll_interval is None else poll_interval
        self.idle_interval = max(IDLE_INTERVAL, self.poll_interval) if idle_interval is None else idle_interval
        if clock is not None:
            self.webhooks.clock = clock
        self.webhooks.embedded_delivery = False  # this worker delivers; no in-process thread
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self.rounds = 0  # delivery rounds run (each one claim query at least)
        self.webhooks.store.webhooks.add_listener(self._on_enqueued)
        self._task = self._loop.create_task(self._run(), name="modelyard-webhooks")

    def _on_enqueued(self) -> None:  # any thread
        with contextlib.suppress(RuntimeError):  # the loop has closed: we are stopping anyway
            self._loop.call_soon_threadsafe(self._wake.set)

    def _round(self) -> float | None:
        """Send what is due; then 0 to go again at once, or seconds until the next delivery falls due (None: none)."""
        if self.webhooks.deliver_due():
            return 0.0
        due = self.webhooks.seconds_until_due()
        return None if due is None else max(float(due), MIN_WAIT)  # due now yet not claimable: a race, not a spin

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()  # an enqueue during the round sets it again: the next round follows at once
            try:
                due = await asyncio.to_thread(self._round)
            except Exception:  # the store is unreachable for now: log, wait, try again
                log.exception("webhook delivery round failed")
                due = self.poll_interval
            self.rounds += 1
            if due == 0.0:
                continue
            wait = self.idle_interval if due is None else min(due, self.poll_interval)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def stop(self) -> None:
        self._stopping = True
        self.webhooks.store.webhooks.remove_listener(self._on_enqueued)
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self.webhooks.timeout + 5)
        except asyncio.TimeoutError:  # a send still in flight: its lease runs out and another process retries
            self._task.cancel()


def start(service: Any, poll_interval: float | None = None, clock: Callable[[], int] | None = None,
          idle_interval: float | None = None) -> WebhookWorker:
    """Start the worker on the running event loop (called from the app's lifespan)."""
    return WebhookWorker(service, poll_interval, clock, idle_interval)
