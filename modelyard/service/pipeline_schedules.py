"""Pipeline schedules and their ticks — the rules: cron expressions, claims once per tick, leases, backfill.

Schedules use cron expressions (croniter): five fields, or six with a leading
seconds field (``*/10 * * * * *``); ticks are UTC epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, cast

from ..errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from . import limits
from .experiments import now_ms
from .pipeline_registry import PipelineRegistry
from .pipeline_values import (
    check_executor,
    check_name,
    from_json,
    to_json,
)

MAX_CATCHUP_TICKS = 1000


def cron_iter(expression: str, start_ms: int) -> Any:
    """A croniter over UTC from ``start_ms``: 5 fields, or 6 with seconds first."""
    from croniter import croniter

    six = len(expression.split()) == 6
    if not croniter.is_valid(expression, second_at_beginning=six):
        raise InvalidParameterValue(
            f"Invalid cron expression {expression!r}: use 5 fields (minute hour day month weekday) "
            "or 6 with a leading seconds field."
        )
    start = datetime.fromtimestamp(start_ms / 1000, tz=timezone.utc)
    return croniter(expression, start, second_at_beginning=six)


def next_tick(expression: str, after_ms: int) -> int:
    """The first tick strictly after ``after_ms``."""
    return int(cron_iter(expression, after_ms).get_next(float) * 1000)


def ticks_between(expression: str, start_ms: int, end_ms: int, limit: int = MAX_CATCHUP_TICKS) -> list[int]:
    """Ticks ``t`` with ``start_ms <= t <= end_ms`` (at most ``limit``)."""
    it = cron_iter(expression, start_ms - 1)
    out: list[int] = []
    while len(out) < limit:
        t = int(it.get_next(float) * 1000)
        if t > end_ms:
            break
        if t >= start_ms:
            out.append(t)
    return out


class SchedulesService:
    """The schedule and tick methods of :class:`~modelyard.service.pipelines.PipelinesService`."""

    _p: Any
    registry: PipelineRegistry  # what the server may run (PipelinesService.registry)
    _changed: Callable[[], None]  # wakes the scheduler (PipelinesService.add_listener)

    def create_schedule(
        self, name: str, reference: str, cron: str, params: dict[str, Any] | None = None, executor: str | None = None,
        date_param: str | None = "logical_date", catchup: bool = False, paused: bool = False, now: int | None = None,
    ) -> dict[str, Any]:
        check_name("schedule", name)
        reference = self.registry.require(reference, "reference").name
        check_executor(executor)
        now = now_ms() if now is None else now
        first = next_tick(cron, now)
        if self._p.schedules(name):
            raise ResourceAlreadyExists(f"Schedule {name!r} already exists.")
        self._p.insert_schedule({
            "name": name, "reference": reference, "cron": cron, "params": to_json(params or {}), "executor": executor,
            "date_param": date_param or None, "catchup": bool(catchup), "paused": bool(paused), "created_time": now,
            "next_tick_time": first,
        })
        self._changed()
        return self.get_schedule(name)

    def get_schedule(self, name: str) -> dict[str, Any]:
        rows = self._p.schedules(name)
        if not rows:
            raise ResourceDoesNotExist(f"Schedule {name!r} does not exist.")
        return _schedule_dict(rows[0])

    def list_schedules(self) -> list[dict[str, Any]]:
        return [_schedule_dict(r) for r in self._p.schedules()]

    def set_schedule_paused(self, name: str, paused: bool, now: int | None = None) -> dict[str, Any]:
        sched = self.get_schedule(name)
        values: dict[str, Any] = {"paused": bool(paused)}
        if not paused and sched["paused"] and not sched["catchup"]:
            values["next_tick_time"] = next_tick(sched["cron"], now_ms() if now is None else now)  # no burst of missed ticks
        self._p.update_schedule(name, **values)
        if not paused:
            self._changed()
        return self.get_schedule(name)

    def delete_schedule(self, name: str) -> None:
        if not self._p.delete_schedule(name):
            raise ResourceDoesNotExist(f"Schedule {name!r} does not exist.")

    def schedule_ticks(self, name: str, max_results: int = 100) -> list[dict[str, Any]]:
        limits.check_max_results(max_results, 10_000)
        return cast("list[dict[str, Any]]", self._p.ticks(self.get_schedule(name)["id"], max_results))

    def due_ticks(self, now: int | None = None, owner: str | None = None, lease_ms: int | None = None) -> list[dict[str, Any]]:
        """Claim the ticks due at ``now``: each (schedule, tick) is won by exactly one caller.

        Without catch-up only the latest missed tick runs. Returns what this caller won:
        ``{"tick_id", "tick_time", "schedule": {...}}``. A scheduler passes its
        ``owner`` id and ``lease_ms``: it then holds each claim until ``now + lease_ms``
        unless it renews it (:meth:`renew_ticks`), and another scheduler may take an
        expired one over (:meth:`take_over_ticks`).
        """
        now = now_ms() if now is None else now
        until = None if owner is None or lease_ms is None else now + lease_ms
        won = []
        for row in self._p.schedules():
            seen = row["next_tick_time"]
            if row["paused"] or seen is None or seen > now:
                continue
            due = ticks_between(row["cron"], seen, now)
            if not row["catchup"]:
                due = due[-1:]
            for t in due:
                tick_id = self._p.claim_tick(row["id"], t, "schedule", now, owner, until)
                if tick_id is not None:
                    won.append({"tick_id": tick_id, "tick_time": t, "schedule": _schedule_dict(row)})
            self._p.advance_schedule(row["id"], seen, next_tick(row["cron"], now))
        return won

    def take_over_ticks(self, owner: str, now: int, lease_ms: int, limit: int = 20) -> list[dict[str, Any]]:
        """Take over scheduled ticks whose claimer's lease ran out before their run recorded itself.

        Each is won by one caller (compare-and-set), then held like a fresh claim.
        A tick that is no longer worth running — its schedule is paused, or has no
        catch-up and a later tick — is finished as ``skipped`` instead.
        """
        schedules = {r["id"]: r for r in self._p.schedules()}
        won = []
        for tick in self._p.expired_ticks(now, limit):
            if not self._p.take_over_tick(tick["id"], owner, now, now + lease_ms):
                continue
            row = schedules.get(tick["schedule_id"])
            if row is None or row["paused"] or (not row["catchup"]
                                                 and self._p.has_later_tick(row["id"], tick["tick_time"])):
                self._p.finish_tick(tick["id"], owner, "skipped")
                continue
            won.append({"tick_id": tick["id"], "tick_time": tick["tick_time"], "schedule": _schedule_dict(row),
                        "taken_over": True})
        return won

    def renew_ticks(self, owner: str, tick_ids: list[int], now: int, lease_ms: int) -> list[int]:
        """Extend ``owner``'s leases; the ids it still holds (not yet recorded by their run, nor taken over)."""
        return cast("list[int]", self._p.renew_ticks(owner, [int(t) for t in tick_ids], now + lease_ms))

    def finish_tick(self, tick_id: int, owner: str, status: str) -> bool:
        """End ``owner``'s claim on a tick with ``status`` (e.g. ``failed``), if it still holds it."""
        return bool(self._p.finish_tick(int(tick_id), owner, status))

    def claim_backfill(self, name: str, start: int, end: int) -> list[dict[str, Any]]:
        """Claim the schedule's ticks in ``[start, end]`` not run yet (kind ``backfill``)."""
        sched = self.get_schedule(name)
        now = now_ms()
        out = []
        for t in ticks_between(sched["cron"], start, end, limit=100_000):
            tick_id = self._p.claim_tick(sched["id"], t, "backfill", now)
            if tick_id is not None:
                out.append({"tick_id": tick_id, "tick_time": t, "schedule": sched})
        return out

    def set_tick(self, tick_id: int, status: str, pipeline_run_id: str | None = None) -> None:
        self._p.set_tick(int(tick_id), status, pipeline_run_id)


def _schedule_dict(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["params"] = from_json(row["params"]) or {}
    out["catchup"] = bool(row["catchup"])
    out["paused"] = bool(row["paused"])
    return out
