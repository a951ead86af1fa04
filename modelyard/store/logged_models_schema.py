"""SQL tables of MLflow 3 logged models (models, params, tags, metrics, run inputs and outputs).

A logged model has an integer surrogate key (``logged_models.id``) used by
every child table, as runs do; the public id is ``logged_models.model_id``
(``m-`` and 32 hex digits). Migration ``0003`` creates these tables, ``0009``
``run_model_inputs``.
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
    String,
    Table,
    Text,
)

from .schema import metadata

__all__ = [
    "logged_model_metrics",
    "logged_model_params",
    "logged_model_tags",
    "logged_models",
    "metadata",
    "run_model_inputs",
    "run_outputs",
]

logged_models = Table(
    "logged_models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", String(36), nullable=False, unique=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("artifact_location", Text, nullable=False),
    Column("creation_timestamp_ms", BigInteger, nullable=False),
    Column("last_updated_timestamp_ms", BigInteger, nullable=False),
    # PENDING, READY or FAILED (LOGGED_MODEL_<status> on the wire).
    Column("status", String(20), nullable=False),
    Column("lifecycle_stage", String(32), nullable=False, server_default="active"),
    Column("model_type", String(500)),
    Column("source_run_id", String(32)),
    Column("status_message", Text),
    Index("ix_logged_models_experiment_created", "experiment_id", "creation_timestamp_ms"),
    Index("ix_logged_models_source_run", "source_run_id"),
)


def _model_fk() -> ForeignKey:
    return ForeignKey("logged_models.id", ondelete="CASCADE")


logged_model_tags = Table(
    "logged_model_tags",
    metadata,
    Column("model_id", Integer, _model_fk(), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    sqlite_with_rowid=False,
)

logged_model_params = Table(
    "logged_model_params",
    metadata,
    Column("model_id", Integer, _model_fk(), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    sqlite_with_rowid=False,
)

# Metrics linked to a model (``model_id`` on log-metric / log-batch): every point,
# keyed as MLflow keys them; NaN is stored as 0 with ``is_nan``.
logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    Column("model_id", Integer, _model_fk(), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("step", BigInteger, primary_key=True),
    Column("timestamp", BigInteger, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("value", Float(precision=53), nullable=False),
    Column("is_nan", Boolean, nullable=False),
    Column("dataset_name", String(500)),
    Column("dataset_digest", String(36)),
    Index("ix_logged_model_metrics_key_value", "key", "value"),
    sqlite_with_rowid=False,
)

# Models a run produced (``runs/outputs``), at a step.
run_outputs = Table(
    "run_outputs",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("model_id", Integer, _model_fk(), primary_key=True),
    Column("step", BigInteger, primary_key=True),
    sqlite_with_rowid=False,
)

# Models a run used (``runs/log-inputs`` ``models``); each pair once.
run_model_inputs = Table(
    "run_model_inputs",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("model_id", Integer, _model_fk(), primary_key=True),
    sqlite_with_rowid=False,
)
