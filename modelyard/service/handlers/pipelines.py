"""/api/2.0/modelyard/pipelines/*: recording pipeline runs, run listing and lineage (for the UI), cache, schedules, triggers.

Schedules and triggers name a pipeline registered on the server (``reference``:
its name); ``registered`` lists them.

Firing a trigger is not an operation of the table: over HTTP it is authenticated by the
trigger's own token, not the caller's (its route is ``modelyard.server.routes.pipelines``).
"""

from __future__ import annotations

from typing import Any

import msgspec

from ...api import schemas_pipelines as s
from .. import TrackingService


def record(svc: TrackingService, req: s.Record) -> None:
    svc.pipelines.record(msgspec.to_builtins(req))


def get_run(svc: TrackingService, req: s.PipelineRunId) -> dict[str, Any]:
    return {"pipeline_run": svc.pipelines.get_run(req.run_id)}


def search_runs(svc: TrackingService, req: s.SearchPipelineRuns) -> dict[str, Any]:
    return svc.pipelines.list_runs(req.pipeline, req.status, req.max_results, req.page_token)


def lineage(svc: TrackingService, req: s.PipelineRunId) -> dict[str, Any]:
    return svc.pipelines.lineage(req.run_id)


def cache_keys(svc: TrackingService, req: s.CacheQuery) -> dict[str, Any]:
    return {"keys": svc.pipelines.cache_keys(req.pipeline or "")}


def cache_get(svc: TrackingService, req: s.CacheQuery) -> dict[str, Any]:
    entry = svc.pipelines.cache_entry(req.cache_key)
    return {} if entry is None else {"entry": entry}


def cache_get_many(svc: TrackingService, req: s.CacheKeys) -> dict[str, Any]:
    return {"entries": svc.pipelines.cache_entries(req.cache_keys)}


def cache_list(svc: TrackingService, req: s.CacheQuery) -> dict[str, Any]:
    return {"entries": svc.pipelines.cache_list(req.pipeline, req.step, req.max_results)}


def cache_clear(svc: TrackingService, req: s.CacheQuery) -> dict[str, Any]:
    return {"deleted": svc.pipelines.cache_clear(req.pipeline, req.step)}


def create_schedule(svc: TrackingService, req: s.CreateSchedule) -> dict[str, Any]:
    return {"schedule": svc.pipelines.create_schedule(
        req.name, req.reference, req.cron, req.params, req.executor, req.date_param, req.catchup, req.paused)}


def get_schedule(svc: TrackingService, req: s.ByName) -> dict[str, Any]:
    return {"schedule": svc.pipelines.get_schedule(req.name)}


def list_schedules(svc: TrackingService, req: s.ByName) -> dict[str, Any]:
    return {"schedules": svc.pipelines.list_schedules()}


def update_schedule(svc: TrackingService, req: s.SetPaused) -> dict[str, Any]:
    return {"schedule": svc.pipelines.set_schedule_paused(req.name, req.paused)}


def delete_schedule(svc: TrackingService, req: s.ByName) -> None:
    svc.pipelines.delete_schedule(req.name)


def schedule_ticks(svc: TrackingService, req: s.ByName) -> dict[str, Any]:
    return {"ticks": svc.pipelines.schedule_ticks(req.name, req.max_results)}


def backfill(svc: TrackingService, req: s.Backfill) -> dict[str, Any]:
    return {"ticks": svc.pipelines.claim_backfill(req.name, req.start, req.end)}


def update_tick(svc: TrackingService, req: s.TickUpdate) -> None:
    svc.pipelines.set_tick(req.tick_id, req.status, req.pipeline_run_id)


def registered(svc: TrackingService, req: s.ByName) -> dict[str, Any]:
    return {"pipelines": svc.pipelines.registered()}


def create_trigger(svc: TrackingService, req: s.CreateTrigger) -> dict[str, Any]:
    return {"trigger": svc.pipelines.create_trigger(req.name, req.kind, req.reference, req.params, req.executor, req.config)}


def get_trigger(svc: TrackingService, req: s.ByName) -> dict[str, Any]:
    return {"trigger": svc.pipelines.get_trigger(req.name)}


def list_triggers(svc: TrackingService, req: s.ByName) -> dict[str, Any]:
    return {"triggers": svc.pipelines.list_triggers()}


def update_trigger(svc: TrackingService, req: s.SetPaused) -> dict[str, Any]:
    return {"trigger": svc.pipelines.set_trigger_paused(req.name, req.paused)}


def delete_trigger(svc: TrackingService, req: s.ByName) -> None:
    svc.pipelines.delete_trigger(req.name)


def trigger_events(svc: TrackingService, req: s.ByName) -> dict[str, Any]:
    return {"events": svc.pipelines.trigger_events(req.name, req.max_results)}

