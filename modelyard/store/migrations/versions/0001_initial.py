"""Initial tracking schema: experiments, runs, params, tags, metrics, datasets, inputs.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _run_fk() -> sa.ForeignKey:
    return sa.ForeignKey("runs.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(500), nullable=False, unique=True),
        sa.Column("artifact_location", sa.Text, nullable=False),
        sa.Column("lifecycle_stage", sa.String(32), nullable=False, server_default="active"),
        sa.Column("creation_time", sa.BigInteger),
        sa.Column("last_update_time", sa.BigInteger),
    )
    op.create_table(
        "experiment_tags",
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_uuid", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(250)),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.experiment_id"), nullable=False),
        sa.Column("user_id", sa.String(256)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("start_time", sa.BigInteger),
        sa.Column("end_time", sa.BigInteger),
        sa.Column("deleted_time", sa.BigInteger),
        sa.Column("artifact_uri", sa.Text),
        sa.Column("lifecycle_stage", sa.String(20), nullable=False, server_default="active"),
    )
    op.create_index("ix_runs_experiment_start", "runs", ["experiment_id", "start_time"])
    for name, value_type in (("params", sa.Text), ("tags", sa.Text)):
        op.create_table(
            name,
            sa.Column("run_id", sa.Integer, _run_fk(), primary_key=True),
            sa.Column("key", sa.String(250), primary_key=True),
            sa.Column("value", value_type, nullable=name == "tags"),
            sqlite_with_rowid=False,
        )
    op.create_index("ix_params_key_value", "params", ["key", "value"])
    op.create_table(
        "metric_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(250), nullable=False, unique=True),
    )
    op.create_table(
        "metrics",
        sa.Column("run_id", sa.Integer, _run_fk(), primary_key=True),
        sa.Column("key_id", sa.Integer, sa.ForeignKey("metric_keys.id"), primary_key=True),
        sa.Column("step", sa.BigInteger, primary_key=True),
        sa.Column("timestamp", sa.BigInteger, primary_key=True),
        sa.Column("value", sa.Float(precision=53), primary_key=True),
        sa.Column("is_nan", sa.Boolean, primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "latest_metrics",
        sa.Column("run_id", sa.Integer, _run_fk(), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("is_nan", sa.Boolean, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key", "value"])
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset_uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.experiment_id"), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("digest", sa.String(36), nullable=False),
        sa.Column("source_type", sa.String(36), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("schema", sa.Text),
        sa.Column("profile", sa.Text),
        sa.UniqueConstraint("experiment_id", "name", "digest", name="uq_datasets_experiment_name_digest"),
    )
    op.create_table(
        "inputs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("input_uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("run_id", sa.Integer, _run_fk(), nullable=False),
        sa.UniqueConstraint("run_id", "dataset_id", name="uq_inputs_run_dataset"),
    )
    op.create_table(
        "input_tags",
        sa.Column("input_id", sa.Integer, sa.ForeignKey("inputs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for name in (
        "input_tags", "inputs", "datasets", "latest_metrics", "metrics", "metric_keys",
        "tags", "params", "runs", "experiment_tags", "experiments",
    ):
        op.drop_table(name)
