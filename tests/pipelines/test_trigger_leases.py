"""Trigger event claims are leases: renewed by their scheduler, taken over once when it dies, never run twice.

As in ``test_tick_leases.py``, each ``Scheduler`` stands for one server process:
its own service over the shared store (SQLite and PostgreSQL), a hand-moved
clock, and a launcher that records what it would have started.
"""

from __future__ import annotations

import threading
from typing import Any

from modelyard.service import TrackingService
from tests.pipelines.lease_support import T0, Server


def _event_row(service: TrackingService, trigger: str, event_id: int) -> dict[str, Any]:
    return {e["id"]: e for e in service.pipelines.trigger_events(trigger)}[event_id]


def _record_run(service: TrackingService, event_id: int) -> str:
    run_id = service.runs.create("0", run_name="p").info.run_id
    service.pipelines.record({"pipeline_run": {"run_uuid": run_id, "pipeline": "p", "event_id": event_id}})
    return run_id


def _fire(service: TrackingService, payload: dict[str, Any] | None = None) -> int:
    if not service.pipelines.list_triggers():
        service.pipelines.create_trigger("on-http", "http", "adder", params={"x": 0})
    return int(service.pipelines.fire_trigger("on-http", payload or {"x": 1})["event_id"])


def test_a_dead_claimers_event_is_taken_over_once_after_its_lease(servers, clock):
    a, b, c = servers
    event_id = _fire(a.service, {"x": 7})
    assert a.tick() == 1  # a claims and launches; then its server dies before the run records itself
    [first] = a.started
    lease = a.scheduler.lease_ms
    row = _event_row(a.service, "on-http", event_id)
    assert (row["status"], row["lease_owner"], row["lease_expires"]) == ("claimed", a.scheduler.owner, T0 + lease)
    clock[0] += lease - 1
    assert b.tick() + c.tick() == 0  # the lease still holds
    clock[0] += 2
    assert b.tick() + c.tick() == 1  # expired: one of the others takes it over
    assert b.tick() + c.tick() == 0
    [second] = b.started + c.started
    assert second.event_id == first.event_id == event_id
    assert second.args[second.args.index("--params-json") + 1] == first.args[first.args.index("--params-json") + 1]
    taker = b if b.started else c
    assert _event_row(a.service, "on-http", event_id)["lease_owner"] == taker.scheduler.owner
    assert a.tick() == 0  # the first server was only stalled: it sees it lost the claim and launches nothing
    assert a.scheduler.pending_events == {} and len(a.started) == 1
    run_id = _record_run(a.service, event_id)
    row = _event_row(a.service, "on-http", event_id)
    assert (row["status"], row["pipeline_run_uuid"], row["lease_expires"]) == ("launched", run_id, None)
    clock[0] += 10 * lease
    assert sum(s.tick() for s in servers) == 0  # recorded: never taken over again
    assert taker.scheduler.pending_events == {}


def test_a_model_version_event_is_taken_over_too(servers, clock):
    a, b, _ = servers
    a.service.registry.create_registered_model("churn", {}, None)
    a.service.pipelines.create_trigger("on-model", "model_version", "adder", config={"model": "churn"})
    run = a.service.runs.create("0")
    a.service.registry.create_model_version("churn", f"{run.info.artifact_uri}/model", run.info.run_id)
    assert a.tick() == 1  # polled, claimed, launched; a dies
    clock[0] += a.scheduler.lease_ms + 1
    assert b.tick() == 1
    assert b.started[0].event_id == a.started[0].event_id
    assert '"model_version": "1"' in b.started[0].args[b.started[0].args.index("--params-json") + 1]


def test_the_claimer_renews_its_lease_until_the_run_records_itself(servers, clock):
    a, b, _ = servers
    event_id = _fire(a.service)
    assert a.tick() == 1
    lease = a.scheduler.lease_ms
    for _ in range(4):  # a slow start: four lease lengths, renewed every half lease
        clock[0] += lease // 2
        assert a.tick() == 0
        assert b.tick() == 0
    assert list(a.scheduler.pending_events) == [event_id] and b.started == []
    _record_run(a.service, event_id)
    assert a.tick() == 0 and a.scheduler.pending_events == {}  # finished: no more renewals
    assert _event_row(a.service, "on-http", event_id)["status"] == "launched"


def test_a_run_that_exits_before_recording_itself_fails_its_event(servers, clock):
    a, b, _ = servers
    event_id = _fire(a.service)
    assert a.tick() == 1
    a.started[0].exit_code = 1
    clock[0] += 1000
    a.tick()
    row = _event_row(a.service, "on-http", event_id)
    assert (row["status"], row["lease_expires"]) == ("failed", None)
    assert a.scheduler.pending_events == {}
    clock[0] += a.scheduler.lease_ms + 10_000
    assert b.tick() == 0 and b.started == []


def test_a_launch_error_fails_the_event(servers, clock):
    a, b, _ = servers

    def broken(args: list[str]) -> Any:
        raise OSError("no such interpreter")

    a.scheduler.launcher = broken
    event_id = _fire(a.service)
    assert a.tick() == 0
    assert _event_row(a.service, "on-http", event_id)["status"] == "failed"
    clock[0] += a.scheduler.lease_ms + 1
    b.tick()
    assert b.started == []


def test_schedulers_racing_for_an_expired_event_launch_it_once(servers, clock):
    a, b, c = servers
    ids = [_fire(a.service, {"x": i}) for i in range(5)]
    assert a.tick() == 5  # a dies holding all five
    clock[0] += a.scheduler.lease_ms + 1
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(server: Server) -> None:
        try:
            barrier.wait(10)
            server.tick()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in (b, c)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    taken = sorted(ch.event_id for ch in b.started + c.started)
    assert taken == ids  # each expired event taken over by exactly one of them
    owners = {_event_row(a.service, "on-http", i)["lease_owner"] for i in ids}
    assert owners <= {b.scheduler.owner, c.scheduler.owner}


def test_an_event_links_to_the_first_run_that_records_it(service):
    event_id = _fire(service)
    [won] = service.pipelines.claim_events(owner="owner-a", lease_ms=60_000, now=T0)
    assert won["event_id"] == event_id
    first = _record_run(service, event_id)
    _record_run(service, event_id)  # a duplicate run's record does not take the event
    row = _event_row(service, "on-http", event_id)
    assert (row["status"], row["pipeline_run_uuid"]) == ("launched", first)


def test_claims_without_a_lease_are_never_taken_over(servers, clock):
    a, b, _ = servers
    event_id = _fire(a.service)
    [won] = a.service.pipelines.claim_events(now=T0)  # an API caller's claim: held for good
    assert won["event_id"] == event_id
    assert _event_row(a.service, "on-http", event_id)["lease_expires"] is None
    clock[0] += 1000 * a.scheduler.lease_ms
    assert b.tick() == 0 and b.started == []
