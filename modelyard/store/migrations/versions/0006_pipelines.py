"""Pipelines: pipeline runs and their steps, the step cache, schedules, ticks, triggers, trigger events.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_runs",
        sa.Column("run_uuid", sa.String(32), primary_key=True),
        sa.Column("pipeline", sa.String(250), nullable=False),
        sa.Column("reference", sa.Text),
        sa.Column("params", sa.Text),
        sa.Column("executor", sa.String(20)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("start_time", sa.BigInteger),
        sa.Column("end_time", sa.BigInteger),
        sa.Column("trigger", sa.String(250)),
        sa.Column("output", sa.Text),
    )
    op.create_index("ix_pipeline_runs_pipeline_start", "pipeline_runs", ["pipeline", "start_time"])
    op.create_index("ix_pipeline_runs_start", "pipeline_runs", ["start_time"])
    op.create_table(
        "pipeline_steps",
        sa.Column("pipeline_run_uuid", sa.String(32), primary_key=True),
        sa.Column("task_key", sa.String(250), primary_key=True),
        sa.Column("step", sa.String(250), nullable=False),
        sa.Column("run_uuid", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cache_key", sa.String(64)),
        sa.Column("cached_from", sa.String(32)),
        sa.Column("start_time", sa.BigInteger),
        sa.Column("end_time", sa.BigInteger),
        sa.Column("inputs", sa.Text),
        sa.Column("output", sa.Text),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_pipeline_steps_run", "pipeline_steps", ["run_uuid"])
    op.create_table(
        "pipeline_cache",
        sa.Column("cache_key", sa.String(64), primary_key=True),
        sa.Column("pipeline", sa.String(250), nullable=False),
        sa.Column("step", sa.String(250), nullable=False),
        sa.Column("run_uuid", sa.String(32), nullable=False),
        sa.Column("output", sa.Text, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("hits", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_hit_time", sa.BigInteger),
    )
    op.create_index("ix_pipeline_cache_pipeline", "pipeline_cache", ["pipeline", "step"])
    op.create_table(
        "pipeline_schedules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(250), nullable=False, unique=True),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("cron", sa.String(250), nullable=False),
        sa.Column("params", sa.Text),
        sa.Column("executor", sa.String(20)),
        sa.Column("date_param", sa.String(250)),
        sa.Column("catchup", sa.Boolean, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("next_tick_time", sa.BigInteger),
    )
    op.create_table(
        "pipeline_ticks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("schedule_id", sa.Integer, nullable=False),
        sa.Column("tick_time", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("claimed_time", sa.BigInteger, nullable=False),
        sa.Column("pipeline_run_uuid", sa.String(32)),
        sa.UniqueConstraint("schedule_id", "tick_time", name="uq_pipeline_ticks_schedule_tick"),
    )
    op.create_table(
        "pipeline_triggers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(250), nullable=False, unique=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("params", sa.Text),
        sa.Column("executor", sa.String(20)),
        sa.Column("config", sa.Text),
        sa.Column("token_hash", sa.String(64)),
        sa.Column("cursor", sa.String(250)),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "pipeline_trigger_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("trigger_id", sa.Integer, nullable=False),
        sa.Column("dedupe_key", sa.String(250), nullable=False),
        sa.Column("payload", sa.Text),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("claimed_time", sa.BigInteger),
        sa.Column("pipeline_run_uuid", sa.String(32)),
        sa.UniqueConstraint("trigger_id", "dedupe_key", name="uq_pipeline_trigger_events_dedupe"),
    )
    op.create_index("ix_pipeline_trigger_events_status", "pipeline_trigger_events", ["status"])


def downgrade() -> None:
    for name in (
        "pipeline_trigger_events", "pipeline_triggers", "pipeline_ticks", "pipeline_schedules",
        "pipeline_cache", "pipeline_steps", "pipeline_runs",
    ):
        op.drop_table(name)
