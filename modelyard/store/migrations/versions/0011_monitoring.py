"""monitoring tables: reference profiles, monitors, monitor results, alerts.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitoring_references",
        sa.Column("model_name", sa.String(256), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("profile", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("model_name", "model_version", name="pk_monitoring_references"),
    )
    op.create_table(
        "monitors",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("model_name", sa.String(256), nullable=False),
        sa.Column("model_version", sa.String(64)),
        sa.Column("alias", sa.String(256)),
        sa.Column("task", sa.String(32)),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("interval_s", sa.Integer),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("next_run_ms", sa.BigInteger),
        sa.Column("lease_until_ms", sa.BigInteger),
    )
    op.create_index("ix_monitors_next_run", "monitors", ["next_run_ms"])
    op.create_table(
        "monitor_results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("monitor_name", sa.String(256), nullable=False),
        sa.Column("model_version", sa.String(64)),
        sa.Column("started_ms", sa.BigInteger, nullable=False),
        sa.Column("window_start_ms", sa.BigInteger),
        sa.Column("window_end_ms", sa.BigInteger),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("labelled", sa.Integer, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
    )
    op.create_index("ix_monitor_results_monitor", "monitor_results", ["monitor_name", "started_ms"])
    op.create_table(
        "monitor_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("monitor_name", sa.String(256), nullable=False),
        sa.Column("result_id", sa.Integer, nullable=False),
        sa.Column("rule", sa.String(256), nullable=False),
        sa.Column("metric", sa.String(256), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("acknowledged_ms", sa.BigInteger),
        sa.Column("acknowledged_by", sa.String(256)),
    )
    op.create_index("ix_monitor_alerts_monitor", "monitor_alerts", ["monitor_name", "created_ms"])


def downgrade() -> None:
    op.drop_index("ix_monitor_alerts_monitor", table_name="monitor_alerts")
    op.drop_table("monitor_alerts")
    op.drop_index("ix_monitor_results_monitor", table_name="monitor_results")
    op.drop_table("monitor_results")
    op.drop_index("ix_monitors_next_run", table_name="monitors")
    op.drop_table("monitors")
    op.drop_table("monitoring_references")
