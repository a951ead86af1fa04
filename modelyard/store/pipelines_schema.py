"""SQL tables — Pipelines: runs of steps, cache entries, schedules and their ticks, triggers.

A pipeline run is a tracking run (``runs.run_uuid``) with one ``pipeline_runs``
row; each step execution is a nested tracking run with one ``pipeline_steps``
row keyed by its *task key* (``train``, ``train#2``, ``score[3]``), which stays
the same when the pipeline is resumed. Values are JSON text.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text, UniqueConstraint

from .schema import metadata

__all__ = ["metadata"]

pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("run_uuid", String(32), primary_key=True),
    Column("pipeline", String(250), nullable=False),
    Column("reference", Text),
    Column("params", Text),
    Column("executor", String(20)),
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger),
    Column("end_time", BigInteger),
    Column("trigger", String(250)),
    Column("output", Text),
    Index("ix_pipeline_runs_pipeline_start", "pipeline", "start_time"),
    Index("ix_pipeline_runs_start", "start_time"),
)

pipeline_steps = Table(
    "pipeline_steps",
    metadata,
    Column("pipeline_run_uuid", String(32), primary_key=True),
    Column("task_key", String(250), primary_key=True),
    Column("step", String(250), nullable=False),
    Column("run_uuid", String(32), nullable=False),
    Column("position", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("cache_key", String(64)),
    Column("cached_from", String(32)),
    Column("start_time", BigInteger),
    Column("end_time", BigInteger),
    Column("inputs", Text),
    Column("output", Text),
    Column("error", Text),
    Index("ix_pipeline_steps_run", "run_uuid"),
)

pipeline_cache = Table(
    "pipeline_cache",
    metadata,
    Column("cache_key", String(64), primary_key=True),
    Column("pipeline", String(250), nullable=False),
    Column("step", String(250), nullable=False),
    Column("run_uuid", String(32), nullable=False),
    Column("output", Text, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("hits", Integer, nullable=False, server_default="0"),
    Column("last_hit_time", BigInteger),
    Index("ix_pipeline_cache_pipeline", "pipeline", "step"),
)

pipeline_schedules = Table(
    "pipeline_schedules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("reference", Text, nullable=False),
    Column("cron", String(250), nullable=False),
    Column("params", Text),
    Column("executor", String(20)),
    Column("date_param", String(250)),
    Column("catchup", Boolean, nullable=False),
    Column("paused", Boolean, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("next_tick_time", BigInteger),
)

pipeline_ticks = Table(
    "pipeline_ticks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("schedule_id", Integer, nullable=False),
    Column("tick_time", BigInteger, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("claimed_time", BigInteger, nullable=False),
    Column("pipeline_run_uuid", String(32)),
    Column("lease_owner", String(32)),  # the scheduler that holds a 'claimed' tick...
    Column("lease_expires", BigInteger),  # ...until then (NULL: never taken over, e.g. a backfill)
    UniqueConstraint("schedule_id", "tick_time", name="uq_pipeline_ticks_schedule_tick"),
    Index("ix_pipeline_ticks_status_lease", "status", "lease_expires"),
)

pipeline_triggers = Table(
    "pipeline_triggers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("reference", Text, nullable=False),
    Column("params", Text),
    Column("executor", String(20)),
    Column("config", Text),
    Column("token_hash", String(64)),
    Column("cursor", String(250)),
    Column("paused", Boolean, nullable=False),
    Column("created_time", BigInteger, nullable=False),
)

pipeline_trigger_events = Table(
    "pipeline_trigger_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("trigger_id", Integer, nullable=False),
    Column("dedupe_key", String(250), nullable=False),
    Column("payload", Text),
    Column("status", String(20), nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("claimed_time", BigInteger),
    Column("pipeline_run_uuid", String(32)),
    Column("lease_owner", String(32)),  # the scheduler that holds a 'claimed' event...
    Column("lease_expires", BigInteger),  # ...until then (NULL: never taken over)
    UniqueConstraint("trigger_id", "dedupe_key", name="uq_pipeline_trigger_events_dedupe"),
    Index("ix_pipeline_trigger_events_status", "status"),
    Index("ix_pipeline_trigger_events_status_lease", "status", "lease_expires"),
)

TABLES = (
    pipeline_runs,
    pipeline_steps,
    pipeline_cache,
    pipeline_schedules,
    pipeline_ticks,
    pipeline_triggers,
    pipeline_trigger_events,
)
