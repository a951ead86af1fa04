"""Schedule tick claims are leases: renewed by their scheduler, taken over once when it dies, never run twice.

Each ``Scheduler`` here stands for one server process: its own service over the
shared store (SQLite and PostgreSQL), a hand-moved clock, and a launcher that
records what it would have started.
"""

from __future__ import annotations

from typing import Any

from modelyard.server.workers.scheduler import Scheduler
from modelyard.service import TrackingService
from tests.pipelines.lease_support import T0

HOUR = 3_600_000
FIRST = T0 + 2_800_000  # the first hourly tick after T0 (23:00)


def _tick_row(service: TrackingService, name: str) -> dict[str, Any]:
    [row] = service.pipelines.schedule_ticks(name)
    return row


def _record_run(service: TrackingService, tick_id: int) -> str:
    run_id = service.runs.create("0", run_name="p").info.run_id
    service.pipelines.record({"pipeline_run": {"run_uuid": run_id, "pipeline": "p", "tick_id": tick_id}})
    return run_id


def test_lease_length_comes_from_the_settings(service):
    assert Scheduler(service, tracking_uri="http://x").lease_ms == 300_000
    quick = TrackingService(service.settings.with_(scheduler_tick_lease_seconds=2.5))
    try:
        assert Scheduler(quick, tracking_uri="http://x").lease_ms == 2_500
    finally:
        quick.close()


def test_a_dead_claimers_tick_is_taken_over_once_after_its_lease(servers, clock):
    a, b, c = servers
    a.service.pipelines.create_schedule("hourly", "adder", "0 * * * *", now=T0)
    clock[0] = FIRST + 5
    assert a.tick() == 1  # a claims and launches; then its server dies before the run records itself
    [first] = a.started
    lease = a.scheduler.lease_ms
    row = _tick_row(a.service, "hourly")
    assert (row["status"], row["lease_owner"], row["lease_expires"]) == ("claimed", a.scheduler.owner,
                                                                         clock[0] + lease)
    clock[0] += lease - 1
    assert b.tick() + c.tick() == 0  # the lease still holds
    clock[0] += 2
    assert b.tick() + c.tick() == 1  # expired: one of the others takes it over
    assert b.tick() + c.tick() == 0
    [second] = b.started + c.started
    assert second.tick_id == first.tick_id and second.args[second.args.index("--logical-date") + 1].startswith(
        "2023-11-14T23:00:00")
    taker = b if b.started else c
    assert _tick_row(a.service, "hourly")["lease_owner"] == taker.scheduler.owner
    assert a.tick() == 0  # the first server was only stalled: it sees it lost the claim and launches nothing
    assert a.scheduler.pending == {} and len(a.started) == 1
    _record_run(a.service, second.tick_id)
    assert _tick_row(a.service, "hourly")["status"] == "launched"


def test_the_claimer_renews_its_lease_until_the_run_records_itself(servers, clock):
    a, b, _ = servers
    a.service.pipelines.create_schedule("hourly", "adder", "0 * * * *", now=T0)
    clock[0] = FIRST
    assert a.tick() == 1
    [child] = a.started
    lease = a.scheduler.lease_ms
    for _ in range(4):  # a slow start: four lease lengths, renewed every half lease
        clock[0] += lease // 2
        assert a.tick() == 0
        assert b.tick() == 0
    assert list(a.scheduler.pending) == [child.tick_id]
    run_id = _record_run(a.service, child.tick_id)
    row = _tick_row(a.service, "hourly")
    assert (row["status"], row["pipeline_run_uuid"], row["lease_expires"]) == ("launched", run_id, None)
    assert a.tick() == 0 and a.scheduler.pending == {}  # finished: no more renewals
    clock[0] += HOUR
    assert b.tick() == 1 and b.started[0].tick_id != child.tick_id  # only the next hourly ticks, never this one
    assert b.started[0].args[b.started[0].args.index("--logical-date") + 1].startswith("2023-11-15T")


def test_a_run_that_exits_before_recording_itself_fails_its_tick(servers, clock):
    a, b, _ = servers
    a.service.pipelines.create_schedule("hourly", "adder", "0 * * * *", now=T0)
    clock[0] = FIRST
    assert a.tick() == 1
    a.started[0].exit_code = 1
    clock[0] += 1000
    a.tick()
    row = _tick_row(a.service, "hourly")
    assert (row["status"], row["lease_expires"]) == ("failed", None)
    clock[0] = FIRST + a.scheduler.lease_ms + 10_000  # past the lease, before the next tick
    assert b.tick() == 0 and b.started == []


def test_a_launch_error_fails_the_tick(servers, clock):
    a, b, _ = servers

    def broken(args: list[str]) -> Any:
        raise OSError("no such interpreter")

    a.scheduler.launcher = broken
    a.service.pipelines.create_schedule("hourly", "adder", "0 * * * *", now=T0)
    clock[0] = FIRST
    assert a.tick() == 0
    assert _tick_row(a.service, "hourly")["status"] == "failed"
    clock[0] += a.scheduler.lease_ms + 1
    b.tick()
    assert b.started == []


def test_an_orphan_superseded_by_a_later_tick_is_skipped_without_catchup(servers, clock):
    a, b, _ = servers
    a.service.pipelines.create_schedule("every-min", "adder", "* * * * *", now=T0)
    clock[0] = T0 + 40_000  # 22:14:00
    assert a.tick() == 1  # ... and a dies
    orphan = a.started[0].tick_id
    clock[0] += a.scheduler.lease_ms + 1
    assert b.tick() == 1  # the latest minute runs; the orphaned 22:14 tick is not worth running any more
    assert b.started[0].tick_id != orphan
    by_id = {t["id"]: t for t in a.service.pipelines.schedule_ticks("every-min")}
    assert by_id[orphan]["status"] == "skipped" and by_id[orphan]["lease_expires"] is None


def test_with_catchup_the_orphan_is_run_as_well(servers, clock):
    a, b, _ = servers
    a.service.pipelines.create_schedule("every-min", "adder", "* * * * *", catchup=True, now=T0)
    clock[0] = T0 + 40_000
    assert a.tick() == 1
    orphan = a.started[0].tick_id
    clock[0] = T0 + 40_000 + a.scheduler.lease_ms + 1  # past a's lease: five more minutes are due too
    launched = b.tick()
    assert orphan in [c.tick_id for c in b.started]
    assert launched == len(b.started) == len({c.tick_id for c in b.started})


def test_backfill_claims_are_never_taken_over(servers, clock):
    a, b, _ = servers
    a.service.pipelines.create_schedule("hourly", "adder", "0 * * * *", now=T0, paused=True)
    claimed = a.service.pipelines.claim_backfill("hourly", T0 - 3 * HOUR, T0)
    assert len(claimed) == 3
    assert {t["lease_expires"] for t in a.service.pipelines.schedule_ticks("hourly")} == {None}
    clock[0] = T0 + 100 * HOUR
    assert b.tick() == 0 and b.started == []


def test_a_tick_links_to_the_first_run_that_records_it(service):
    service.pipelines.create_schedule("hourly", "adder", "0 * * * *", now=T0)
    [won] = service.pipelines.due_ticks(FIRST, "owner-a", 60_000)
    first = _record_run(service, won["tick_id"])
    _record_run(service, won["tick_id"])  # a duplicate run's record does not take the tick
    row = _tick_row(service, "hourly")
    assert (row["status"], row["pipeline_run_uuid"]) == ("launched", first)
