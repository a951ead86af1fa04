"""Operations on pipelines (our extension, under ``/api/2.0/modelyard/pipelines``).

The engine records a run's progress (``record``) and looks up its cache; the UI and the SDK read
pipeline runs and their lineage; schedules and triggers run a pipeline registered on the server.
A pipeline run is a tracking run, so reading one is reading that run. Schedules and triggers are
the server's scheduler: creating or deleting one (which runs code on the server, or hands out a
token that does) takes MANAGE on the server, pausing and claiming ticks EDIT.

Firing a trigger is not here: over HTTP it is authenticated by the trigger's own token
(:data:`FIRE_TRIGGER_PATH`, a route of ``modelyard.server.routes.pipelines``).
"""

from __future__ import annotations

from . import schemas_pipelines as s
from .operations import EXT, Table, edit, manage, read

t = Table("pipelines", "modelyard.service.handlers")
P = f"{EXT}/pipelines"
FIRE_TRIGGER_PATH = f"{P}/triggers/fire"
PIPELINE = read("pipeline", "pipeline")

# ---- runs and lineage ----------------------------------------------------------
# A batch upserts steps but appends their metrics and counts cache hits: sent twice, counted twice.
RECORD_PIPELINE = t.add("record_pipeline", "POST", f"{P}/record", s.Record, "pipelines:record", edit())
GET_PIPELINE_RUN = t.add("get_pipeline_run", "GET", f"{P}/runs/get", s.PipelineRunId, "pipelines:get_run",
                         read("run", "run_id"), idempotent=True)
SEARCH_PIPELINE_RUNS = t.add("search_pipeline_runs", "GET", f"{P}/runs/search", s.SearchPipelineRuns,
                             "pipelines:search_runs", PIPELINE, idempotent=True)
GET_PIPELINE_LINEAGE = t.add("get_pipeline_lineage", "GET", f"{P}/runs/lineage", s.PipelineRunId,
                             "pipelines:lineage", read("run", "run_id"), idempotent=True)

# ---- cache ---------------------------------------------------------------------
GET_PIPELINE_CACHE_KEYS = t.add("get_pipeline_cache_keys", "GET", f"{P}/cache/keys", s.CacheQuery,
                                "pipelines:cache_keys", PIPELINE, idempotent=True)
GET_PIPELINE_CACHE_ENTRY = t.add("get_pipeline_cache_entry", "GET", f"{P}/cache/get", s.CacheQuery,
                                 "pipelines:cache_get", read(), idempotent=True)
GET_PIPELINE_CACHE_ENTRIES = t.add("get_pipeline_cache_entries", "POST", f"{P}/cache/get-many", s.CacheKeys,
                                   "pipelines:cache_get_many", read(), idempotent=True)
LIST_PIPELINE_CACHE = t.add("list_pipeline_cache", "GET", f"{P}/cache/list", s.CacheQuery, "pipelines:cache_list",
                            PIPELINE, idempotent=True)
CLEAR_PIPELINE_CACHE = t.add("clear_pipeline_cache", "POST", f"{P}/cache/clear", s.CacheQuery,
                             "pipelines:cache_clear", edit("pipeline", "pipeline"), idempotent=True)

# ---- registered pipelines ------------------------------------------------------
LIST_REGISTERED_PIPELINES = t.add("list_registered_pipelines", "GET", f"{P}/registered", s.ByName,
                                  "pipelines:registered", read(), idempotent=True)

# ---- schedules -----------------------------------------------------------------
CREATE_PIPELINE_SCHEDULE = t.add("create_pipeline_schedule", "POST", f"{P}/schedules/create", s.CreateSchedule,
                                 "pipelines:create_schedule", manage())
GET_PIPELINE_SCHEDULE = t.add("get_pipeline_schedule", "GET", f"{P}/schedules/get", s.ByName,
                              "pipelines:get_schedule", read(), idempotent=True)
LIST_PIPELINE_SCHEDULES = t.add("list_pipeline_schedules", "GET", f"{P}/schedules/list", s.ByName,
                                "pipelines:list_schedules", read(), idempotent=True)
UPDATE_PIPELINE_SCHEDULE = t.add("update_pipeline_schedule", "POST", f"{P}/schedules/update", s.SetPaused,
                                 "pipelines:update_schedule", edit(), idempotent=True)
DELETE_PIPELINE_SCHEDULE = t.add("delete_pipeline_schedule", "POST", f"{P}/schedules/delete", s.ByName,
                                 "pipelines:delete_schedule", manage(), idempotent=True)
GET_PIPELINE_SCHEDULE_TICKS = t.add("get_pipeline_schedule_ticks", "GET", f"{P}/schedules/ticks", s.ByName,
                                    "pipelines:schedule_ticks", read(), idempotent=True)
# Claims the ticks not yet claimed: asked again, it answers none of those the first call claimed.
CLAIM_PIPELINE_BACKFILL = t.add("claim_pipeline_backfill", "POST", f"{P}/schedules/backfill", s.Backfill,
                                "pipelines:backfill", edit())
SET_PIPELINE_TICK = t.add("set_pipeline_tick", "POST", f"{P}/ticks/update", s.TickUpdate, "pipelines:update_tick",
                          edit(), idempotent=True)

# ---- triggers ------------------------------------------------------------------
CREATE_PIPELINE_TRIGGER = t.add("create_pipeline_trigger", "POST", f"{P}/triggers/create", s.CreateTrigger,
                                "pipelines:create_trigger", manage())
GET_PIPELINE_TRIGGER = t.add("get_pipeline_trigger", "GET", f"{P}/triggers/get", s.ByName,
                             "pipelines:get_trigger", read(), idempotent=True)
LIST_PIPELINE_TRIGGERS = t.add("list_pipeline_triggers", "GET", f"{P}/triggers/list", s.ByName,
                               "pipelines:list_triggers", read(), idempotent=True)
UPDATE_PIPELINE_TRIGGER = t.add("update_pipeline_trigger", "POST", f"{P}/triggers/update", s.SetPaused,
                                "pipelines:update_trigger", edit(), idempotent=True)
DELETE_PIPELINE_TRIGGER = t.add("delete_pipeline_trigger", "POST", f"{P}/triggers/delete", s.ByName,
                                "pipelines:delete_trigger", manage(), idempotent=True)
GET_PIPELINE_TRIGGER_EVENTS = t.add("get_pipeline_trigger_events", "GET", f"{P}/triggers/events", s.ByName,
                                    "pipelines:trigger_events", read(), idempotent=True)
