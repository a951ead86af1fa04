"""SQL tables of monitoring: reference profiles, monitors, their results and alerts.

``monitoring_references`` keeps one profile (JSON) per model version;
``monitors`` the definitions (model, source window, schedule, rules) and the
scheduling lease; ``monitor_results`` one row per monitor run with its scores;
``monitor_alerts`` the alerts its rules raised, written in the same transaction
as the result that raised them. Migration ``0011`` creates exactly these tables.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, PrimaryKeyConstraint, String, Table, Text

from .schema import MODEL_KEY_LENGTH, metadata

__all__ = ["monitor_alerts", "monitor_results", "monitoring_references", "monitors"]

monitoring_references = Table(
    "monitoring_references",
    metadata,
    Column("model_name", String(MODEL_KEY_LENGTH), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("profile", Text, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("model_name", "model_version", name="pk_monitoring_references"),
)

monitors = Table(
    "monitors",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("model_name", String(MODEL_KEY_LENGTH), nullable=False),
    Column("model_version", String(64)),  # None: the alias's version at run time
    Column("alias", String(256)),
    Column("task", String(32)),
    Column("spec", Text, nullable=False),  # window, rules, thresholds (JSON)
    Column("interval_s", Integer),  # None: on demand only
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("next_run_ms", BigInteger),
    Column("lease_until_ms", BigInteger),
    Index("ix_monitors_next_run", "next_run_ms"),
)

monitor_results = Table(
    "monitor_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("monitor_name", String(256), nullable=False),
    Column("model_version", String(64)),
    Column("started_ms", BigInteger, nullable=False),
    Column("window_start_ms", BigInteger),
    Column("window_end_ms", BigInteger),
    Column("rows", Integer, nullable=False),
    Column("labelled", Integer, nullable=False),
    Column("metrics", Text, nullable=False),  # {name: number}
    Column("report", Text, nullable=False),  # drift, quality, performance (JSON)
    Index("ix_monitor_results_monitor", "monitor_name", "started_ms"),
)

monitor_alerts = Table(
    "monitor_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("monitor_name", String(256), nullable=False),
    Column("result_id", Integer, nullable=False),
    Column("rule", String(256), nullable=False),
    Column("metric", String(256), nullable=False),
    Column("value", Float),
    Column("threshold", Float, nullable=False),
    Column("message", Text, nullable=False),
    Column("status", String(16), nullable=False),  # open, acknowledged
    Column("created_ms", BigInteger, nullable=False),
    Column("acknowledged_ms", BigInteger),
    Column("acknowledged_by", String(256)),
    Index("ix_monitor_alerts_monitor", "monitor_name", "created_ms"),
)
