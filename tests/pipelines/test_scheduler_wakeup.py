"""The scheduler's background loop: a long poll when nothing is active, woken at once by changes in its process.

Each test runs a real ``Scheduler`` loop on an event loop over a real store
(SQLite and PostgreSQL), with its polls set to an hour: a launch within the
test's wait can only come from a wake-up (or, for another process's change,
from the idle poll the test shortens).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from modelyard.server.workers.scheduler import Scheduler
from modelyard.service import TrackingService

T0 = 1_700_000_000_000
HOUR = 3600.0


async def _until(predicate: Callable[[], object], timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


def _scheduler(service: TrackingService, now: list[int], launched: list[list[str]], **intervals: float) -> Scheduler:
    return Scheduler(service, clock=lambda: now[0] / 1000, launcher=launched.append, tracking_uri="http://x",
                     **{"interval": HOUR, "idle_interval": HOUR, **intervals})


def test_watching_only_while_a_schedule_or_trigger_is_active(service):
    sched = _scheduler(service, [T0], [])
    assert not sched.watching()  # an empty store: the idle poll
    service.pipelines.create_schedule("hourly", "adder", "0 * * * *", now=T0)
    assert sched.watching()
    service.pipelines.set_schedule_paused("hourly", True)
    assert not sched.watching()
    service.pipelines.create_trigger("t", "api", "adder")
    assert sched.watching()
    service.pipelines.set_trigger_paused("t", True)
    assert not sched.watching()
    sched.pending[1] = object()  # a claim held until its run records itself
    assert sched.watching()


def test_a_schedule_created_in_this_process_wakes_the_scheduler(service):
    now, launched = [T0], []

    async def main() -> None:
        sched = _scheduler(service, now, launched).start()
        try:
            await _until(lambda: sched.passes >= 1)  # its first pass is done: next one in an hour
            now[0] = T0 + 10_000
            await asyncio.to_thread(service.pipelines.create_schedule, "every-second", "adder", "* * * * * *",
                                    now=T0)
            await _until(lambda: launched)
        finally:
            await sched.stop()

    asyncio.run(main())
    assert len(launched) == 1 and "--tick-id" in launched[0]
    assert [t["tick_time"] for t in service.pipelines.schedule_ticks("every-second")] == [T0 + 10_000]


def test_resuming_a_schedule_wakes_the_scheduler(service):
    now, launched = [T0], []
    service.pipelines.create_schedule("every-second", "adder", "* * * * * *", paused=True, now=T0)

    async def main() -> None:
        sched = _scheduler(service, now, launched).start()
        try:
            await _until(lambda: sched.passes >= 1)
            assert launched == []  # paused
            now[0] = T0 + 10_000
            await asyncio.to_thread(service.pipelines.set_schedule_paused, "every-second", False, now=T0 + 5_000)
            await _until(lambda: launched)
        finally:
            await sched.stop()

    asyncio.run(main())
    assert "--tick-id" in launched[0]


def test_firing_a_trigger_wakes_the_scheduler(service):
    now, launched = [T0], []

    async def main() -> None:
        sched = _scheduler(service, now, launched).start()
        try:
            await asyncio.to_thread(service.pipelines.create_trigger, "retrain", "api", "adder", {"a": 1})
            await _until(lambda: sched.passes >= 2)  # woken by the new trigger; nothing to launch yet
            assert launched == []
            await asyncio.to_thread(service.pipelines.fire_trigger, "retrain", {"b": 2})
            await _until(lambda: launched)
        finally:
            await sched.stop()

    asyncio.run(main())
    assert "--event-id" in launched[0] and '{"a": 1, "b": 2}' in launched[0]


def test_a_schedule_created_by_another_process_is_picked_up_by_the_idle_poll(service):
    """No wake-up crosses processes: the idle poll (here shortened) is the bound."""
    other = TrackingService(service.settings)  # another server worker, or the embedded SDK, on the same store
    now, launched = [T0], []

    async def main() -> None:
        sched = _scheduler(service, now, launched, idle_interval=0.2).start()
        try:
            await _until(lambda: sched.passes >= 1)
            now[0] = T0 + 10_000
            await asyncio.to_thread(other.pipelines.create_schedule, "every-second", "adder", "* * * * * *",
                                    now=T0)
            await _until(lambda: launched)
        finally:
            await sched.stop()

    try:
        asyncio.run(main())
    finally:
        other.close()
    assert "--tick-id" in launched[0]
