"""The webhook outbox worker: sends due deliveries from every server process, each delivery once.

It polls the outbox every ``poll_interval`` seconds, and at once after a
change in this process enqueued deliveries. Sending runs in a thread (the
HTTP calls and the store are synchronous), never on the event loop, so an API
call never waits for a receiver. Claims live in the database
(:meth:`~modelyard.store.webhooks.WebhooksStore.claim_due`), so several
processes share the work without sending anything twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("modelyard.server.webhooks")


class WebhookWorker:
    """Deliver due webhook events until stopped.

    ``poll_interval`` (seconds) and ``clock`` (milliseconds since the epoch)
    default to the service's; tests pass their own.
    """

    def __init__(self, service: Any, poll_interval: float | None = None, clock: Callable[[], int] | None = None) -> None:
        self.webhooks = service.webhooks
        self.poll_interval = self.webhooks.poll_interval if poll_interval is None else poll_interval
        if clock is not None:
            self.webhooks.clock = clock
        self.webhooks.embedded_delivery = False  # this worker delivers; no in-process thread
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self.webhooks.store.webhooks.add_listener(self._on_enqueued)
        self._task = self._loop.create_task(self._run(), name="modelyard-webhooks")

    def _on_enqueued(self) -> None:  # any thread
        with contextlib.suppress(RuntimeError):  # the loop has closed: we are stopping anyway
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                sent = await asyncio.to_thread(self.webhooks.deliver_due)
            except Exception:  # the store is unreachable for now: log, wait, try again
                log.exception("webhook delivery round failed")
                sent = 0
            if sent:
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def stop(self) -> None:
        self._stopping = True
        self.webhooks.store.webhooks.remove_listener(self._on_enqueued)
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self.webhooks.timeout + 5)
        except asyncio.TimeoutError:  # a send still in flight: its lease runs out and another process retries
            self._task.cancel()


def start(service: Any, poll_interval: float | None = None, clock: Callable[[], int] | None = None) -> WebhookWorker:
    """Start the worker on the running event loop (called from the app's lifespan)."""
    return WebhookWorker(service, poll_interval, clock)
