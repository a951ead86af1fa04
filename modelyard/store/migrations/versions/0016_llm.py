"""LLM evaluation and cost: evaluation datasets with records, tags and experiments; token usage per span; prices.

Revision ID: 0016
Revises: 0014
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _dataset_id(primary_key: bool = True) -> "sa.Column[Any]":
    return sa.Column("dataset_id", sa.String(36), sa.ForeignKey("eval_datasets.dataset_id", ondelete="CASCADE"),
                     primary_key=primary_key, nullable=False)


def upgrade() -> None:
    op.create_table(
        "eval_datasets",
        sa.Column("dataset_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("digest", sa.String(36), nullable=False),
        sa.Column("schema", sa.Text),
        sa.Column("profile", sa.Text),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("last_update_time", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(255)),
        sa.Column("last_updated_by", sa.String(255)),
    )
    op.create_index("ix_eval_datasets_name", "eval_datasets", ["name"])
    op.create_table(
        "eval_dataset_tags",
        _dataset_id(),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "eval_dataset_experiments",
        _dataset_id(),
        sa.Column("experiment_id", sa.Integer, primary_key=True),
    )
    op.create_index("ix_eval_dataset_experiments_experiment", "eval_dataset_experiments", ["experiment_id"])
    op.create_table(
        "eval_dataset_records",
        sa.Column("dataset_record_id", sa.String(36), primary_key=True),
        _dataset_id(primary_key=False),
        sa.Column("input_hash", sa.String(64), nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("outputs", sa.Text),
        sa.Column("expectations", sa.Text),
        sa.Column("tags", sa.Text),
        sa.Column("source", sa.Text),
        sa.Column("source_id", sa.String(250)),
        sa.Column("source_type", sa.String(20)),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("last_update_time", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(255)),
        sa.Column("last_updated_by", sa.String(255)),
        sa.UniqueConstraint("dataset_id", "input_hash", name="uq_eval_dataset_records_inputs"),
    )
    op.create_index("ix_eval_dataset_records_page", "eval_dataset_records",
                    ["dataset_id", "created_time", "dataset_record_id"])
    op.create_table(
        "span_usage",
        sa.Column("trace_pk", sa.Integer, sa.ForeignKey("traces.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("span_id", sa.String(16), primary_key=True),
        sa.Column("model", sa.String(250)),
        sa.Column("input_tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("output_tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cached_input_tokens", sa.BigInteger, nullable=False, server_default="0"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_span_usage_model", "span_usage", ["model"])
    op.create_table(
        "llm_prices",
        sa.Column("model", sa.String(250), primary_key=True),
        sa.Column("input_per_million", sa.Float(precision=53), nullable=False),
        sa.Column("output_per_million", sa.Float(precision=53), nullable=False),
        sa.Column("cached_input_per_million", sa.Float(precision=53)),
        sa.Column("currency", sa.String(8), nullable=False, server_default="USD"),
        sa.Column("updated_time", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("llm_prices")
    op.drop_index("ix_span_usage_model", table_name="span_usage")
    op.drop_table("span_usage")
    op.drop_index("ix_eval_dataset_records_page", table_name="eval_dataset_records")
    op.drop_table("eval_dataset_records")
    op.drop_index("ix_eval_dataset_experiments_experiment", table_name="eval_dataset_experiments")
    op.drop_table("eval_dataset_experiments")
    op.drop_table("eval_dataset_tags")
    op.drop_index("ix_eval_datasets_name", table_name="eval_datasets")
    op.drop_table("eval_datasets")
