"""/api/2.0/modelyard/pipelines/*: recording pipeline runs, run listing and lineage (for the UI), cache, schedules, triggers.

Schedules and triggers name a pipeline registered on the server (``reference``:
its name); ``GET /pipelines/registered`` lists them.

``POST /pipelines/triggers/fire`` is the authenticated HTTP trigger: the
trigger's token in ``Authorization: Bearer TOKEN`` (or the body's ``token``).
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ...api.schemas import Int64
from ...api.schemas_pipelines import Record, RunUuid, Short
from ...service import TrackingService
from ..protocol import JSONResponse, accepts, decode_body, endpoint, read_body


class RunId(msgspec.Struct):
    run_id: str = ""


class SearchRuns(msgspec.Struct):
    pipeline: str | None = None
    status: str | None = None
    max_results: Int64 = 100
    page_token: str | None = None


class CacheQuery(msgspec.Struct):
    pipeline: str | None = None
    step: str | None = None
    max_results: Int64 = 1000
    cache_key: str = ""


class CacheKeys(msgspec.Struct):
    cache_keys: list[str] = []


class Name(msgspec.Struct):
    name: str = ""
    max_results: Int64 = 100


class CreateSchedule(msgspec.Struct):
    name: str
    reference: str
    cron: str
    params: dict[str, Any] = {}
    executor: str | None = None
    date_param: str | None = "logical_date"
    catchup: bool = False
    paused: bool = False


class Pause(msgspec.Struct):
    name: str
    paused: bool


class Backfill(msgspec.Struct):
    name: str
    start: Int64
    end: Int64


class TickUpdate(msgspec.Struct):
    tick_id: Int64
    status: Short
    pipeline_run_id: RunUuid | None = None


class CreateTrigger(msgspec.Struct):
    name: str
    kind: str
    reference: str
    params: dict[str, Any] = {}
    executor: str | None = None
    config: dict[str, Any] = {}


class Fire(msgspec.Struct):
    name: str
    payload: dict[str, Any] = {}
    dedupe_key: str | None = None
    token: str | None = None


def record(svc: TrackingService, req: Record) -> None:
    svc.pipelines.record(msgspec.to_builtins(req))


def get_run(svc: TrackingService, req: RunId) -> dict[str, Any]:
    return {"pipeline_run": svc.pipelines.get_run(req.run_id)}


def search_runs(svc: TrackingService, req: SearchRuns) -> dict[str, Any]:
    return svc.pipelines.list_runs(req.pipeline, req.status, req.max_results, req.page_token)


def lineage(svc: TrackingService, req: RunId) -> dict[str, Any]:
    return svc.pipelines.lineage(req.run_id)


def cache_keys(svc: TrackingService, req: CacheQuery) -> dict[str, Any]:
    return {"keys": svc.pipelines.cache_keys(req.pipeline or "")}


def cache_get(svc: TrackingService, req: CacheQuery) -> dict[str, Any]:
    entry = svc.pipelines.cache_entry(req.cache_key)
    return {} if entry is None else {"entry": entry}


def cache_get_many(svc: TrackingService, req: CacheKeys) -> dict[str, Any]:
    return {"entries": svc.pipelines.cache_entries(req.cache_keys)}


def cache_list(svc: TrackingService, req: CacheQuery) -> dict[str, Any]:
    return {"entries": svc.pipelines.cache_list(req.pipeline, req.step, req.max_results)}


def cache_clear(svc: TrackingService, req: CacheQuery) -> dict[str, Any]:
    return {"deleted": svc.pipelines.cache_clear(req.pipeline, req.step)}


def create_schedule(svc: TrackingService, req: CreateSchedule) -> dict[str, Any]:
    return {"schedule": svc.pipelines.create_schedule(
        req.name, req.reference, req.cron, req.params, req.executor, req.date_param, req.catchup, req.paused)}


def get_schedule(svc: TrackingService, req: Name) -> dict[str, Any]:
    return {"schedule": svc.pipelines.get_schedule(req.name)}


def list_schedules(svc: TrackingService, req: Name) -> dict[str, Any]:
    return {"schedules": svc.pipelines.list_schedules()}


def update_schedule(svc: TrackingService, req: Pause) -> dict[str, Any]:
    return {"schedule": svc.pipelines.set_schedule_paused(req.name, req.paused)}


def delete_schedule(svc: TrackingService, req: Name) -> None:
    svc.pipelines.delete_schedule(req.name)


def schedule_ticks(svc: TrackingService, req: Name) -> dict[str, Any]:
    return {"ticks": svc.pipelines.schedule_ticks(req.name, req.max_results)}


def backfill(svc: TrackingService, req: Backfill) -> dict[str, Any]:
    return {"ticks": svc.pipelines.claim_backfill(req.name, req.start, req.end)}


def update_tick(svc: TrackingService, req: TickUpdate) -> None:
    svc.pipelines.set_tick(req.tick_id, req.status, req.pipeline_run_id)


def registered(svc: TrackingService, req: Name) -> dict[str, Any]:
    return {"pipelines": svc.pipelines.registered()}


def create_trigger(svc: TrackingService, req: CreateTrigger) -> dict[str, Any]:
    return {"trigger": svc.pipelines.create_trigger(req.name, req.kind, req.reference, req.params, req.executor, req.config)}


def get_trigger(svc: TrackingService, req: Name) -> dict[str, Any]:
    return {"trigger": svc.pipelines.get_trigger(req.name)}


def list_triggers(svc: TrackingService, req: Name) -> dict[str, Any]:
    return {"triggers": svc.pipelines.list_triggers()}


def update_trigger(svc: TrackingService, req: Pause) -> dict[str, Any]:
    return {"trigger": svc.pipelines.set_trigger_paused(req.name, req.paused)}


def delete_trigger(svc: TrackingService, req: Name) -> None:
    svc.pipelines.delete_trigger(req.name)


def trigger_events(svc: TrackingService, req: Name) -> dict[str, Any]:
    return {"events": svc.pipelines.trigger_events(req.name, req.max_results)}


@accepts(Fire)
async def fire(request: Request) -> Response:
    """Fire a trigger; authenticated by the trigger's own token."""
    service: TrackingService = request.app.state.service
    limit = service.settings.max_request_bytes
    req = decode_body(await read_body(request, limit), Fire, limit)
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else req.token
    out = await run_in_threadpool(
        service.pipelines.fire_trigger, req.name, req.payload, req.dedupe_key, token, authenticate=True
    )
    return JSONResponse(out)


EXTENSION_ROUTES = [
    ("/pipelines/record", ["POST"], endpoint(Record, record)),
    ("/pipelines/runs/get", ["GET"], endpoint(RunId, get_run)),
    ("/pipelines/runs/search", ["GET"], endpoint(SearchRuns, search_runs)),
    ("/pipelines/runs/lineage", ["GET"], endpoint(RunId, lineage)),
    ("/pipelines/cache/keys", ["GET"], endpoint(CacheQuery, cache_keys)),
    ("/pipelines/cache/get", ["GET"], endpoint(CacheQuery, cache_get)),
    ("/pipelines/cache/get-many", ["POST"], endpoint(CacheKeys, cache_get_many)),
    ("/pipelines/cache/list", ["GET"], endpoint(CacheQuery, cache_list)),
    ("/pipelines/cache/clear", ["POST"], endpoint(CacheQuery, cache_clear)),
    ("/pipelines/schedules/create", ["POST"], endpoint(CreateSchedule, create_schedule)),
    ("/pipelines/schedules/get", ["GET"], endpoint(Name, get_schedule)),
    ("/pipelines/schedules/list", ["GET"], endpoint(Name, list_schedules)),
    ("/pipelines/schedules/update", ["POST"], endpoint(Pause, update_schedule)),
    ("/pipelines/schedules/delete", ["POST"], endpoint(Name, delete_schedule)),
    ("/pipelines/schedules/ticks", ["GET"], endpoint(Name, schedule_ticks)),
    ("/pipelines/schedules/backfill", ["POST"], endpoint(Backfill, backfill)),
    ("/pipelines/ticks/update", ["POST"], endpoint(TickUpdate, update_tick)),
    ("/pipelines/registered", ["GET"], endpoint(Name, registered)),
    ("/pipelines/triggers/create", ["POST"], endpoint(CreateTrigger, create_trigger)),
    ("/pipelines/triggers/get", ["GET"], endpoint(Name, get_trigger)),
    ("/pipelines/triggers/list", ["GET"], endpoint(Name, list_triggers)),
    ("/pipelines/triggers/update", ["POST"], endpoint(Pause, update_trigger)),
    ("/pipelines/triggers/delete", ["POST"], endpoint(Name, delete_trigger)),
    ("/pipelines/triggers/events", ["GET"], endpoint(Name, trigger_events)),
    ("/pipelines/triggers/fire", ["POST"], fire),
]
