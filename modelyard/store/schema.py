"""The SQL schema of the tracking store, as SQLAlchemy Core tables.

Runs have an integer surrogate key (``runs.id``) used by every child table,
so metric rows stay narrow and joins stay cheap; the public 32-hex run id is
``runs.run_uuid``. Migrations in ``migrations/versions`` create exactly this.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# A registered model named by its key where rows outlive a request's workspace (grants, monitors, served requests,
# promotion): ``<workspace>:<name>`` outside the default workspace (store.workspaces.model_key), so as wide as the
# longest workspace name (63), ':' and the longest model name (256). Migration 0025 widened these columns.
MODEL_KEY_LENGTH = 320

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False),
    Column("artifact_location", Text, nullable=False),
    Column("lifecycle_stage", String(32), nullable=False, server_default="active"),
    Column("creation_time", BigInteger),
    Column("last_update_time", BigInteger),
    Column("workspace", String(63), nullable=False, server_default="default"),
    UniqueConstraint("workspace", "name", name="uq_experiments_workspace_name"),  # unique per workspace (0020)
)
Index("experiments_workspace", experiments.c.workspace)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_uuid", String(32), nullable=False, unique=True),
    Column("name", String(250)),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("user_id", String(256)),
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger),
    Column("end_time", BigInteger),
    Column("deleted_time", BigInteger),
    Column("artifact_uri", Text),
    Column("lifecycle_stage", String(20), nullable=False, server_default="active"),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_params_key_value", "key", "value"),
    sqlite_with_rowid=False,
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text),
    sqlite_with_rowid=False,
)

# Metric names, interned: history rows carry a small integer instead of the text.
metric_keys = Table(
    "metric_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(250), nullable=False, unique=True),
)

# Full history. A point identical in every column is stored once.
metrics = Table(
    "metrics",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key_id", Integer, ForeignKey("metric_keys.id"), primary_key=True),
    Column("step", BigInteger, primary_key=True),
    Column("timestamp", BigInteger, primary_key=True),
    Column("value", Float(precision=53), primary_key=True),
    Column("is_nan", Boolean, primary_key=True),
    sqlite_with_rowid=False,
)

# One row per (run, key): the point with the highest (step, timestamp, value).
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Float(precision=53), nullable=False),
    Column("is_nan", Boolean, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Index("ix_latest_metrics_key_value", "key", "value"),
    sqlite_with_rowid=False,
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset_uuid", String(36), nullable=False, unique=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("source_type", String(36), nullable=False),
    Column("source", Text, nullable=False),
    Column("schema", Text),
    Column("profile", Text),
    UniqueConstraint("experiment_id", "name", "digest", name="uq_datasets_experiment_name_digest"),
)

inputs = Table(
    "inputs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("input_uuid", String(36), nullable=False, unique=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id"), nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    UniqueConstraint("run_id", "dataset_id", name="uq_inputs_run_dataset"),
)

input_tags = Table(
    "input_tags",
    metadata,
    Column("input_id", Integer, ForeignKey("inputs.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("value", Text, nullable=False),
)
