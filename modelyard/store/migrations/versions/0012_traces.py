"""LLM traces: trace info, tags, metadata, spans, span attributes, assessments, run and prompt links.

Revision ID: 0012
Revises: 0011
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _trace_pk(primary_key: bool = True) -> "sa.Column[Any]":
    return sa.Column("trace_pk", sa.Integer, sa.ForeignKey("traces.id", ondelete="CASCADE"),
                     primary_key=primary_key, nullable=False)


def upgrade() -> None:
    op.create_table(
        "traces",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("trace_id", sa.String(64), nullable=False, unique=True),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.experiment_id"), nullable=False),
        sa.Column("client_request_id", sa.String(250)),
        sa.Column("request_time_ms", sa.BigInteger, nullable=False),
        sa.Column("execution_time_ms", sa.BigInteger),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("request_preview", sa.Text),
        sa.Column("response_preview", sa.Text),
        sa.Column("name", sa.String(250)),
        sa.Column("run_id", sa.String(32)),
        sa.Column("session_id", sa.String(250)),
        sa.Column("user_id", sa.String(250)),
        sa.Column("finalized", sa.Boolean, nullable=False, server_default="0"),
    )
    op.create_index("ix_traces_experiment_time", "traces", ["experiment_id", "request_time_ms", "id"])
    op.create_index("ix_traces_run", "traces", ["run_id"])
    op.create_index("ix_traces_session", "traces", ["session_id"])
    for table in ("trace_tags", "trace_metadata"):
        op.create_table(
            table,
            _trace_pk(),
            sa.Column("key", sa.String(250), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
            sqlite_with_rowid=False,
        )
    op.create_table(
        "spans",
        _trace_pk(),
        sa.Column("span_id", sa.String(16), primary_key=True),
        sa.Column("parent_span_id", sa.String(16)),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("type", sa.String(100)),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("start_time_ns", sa.BigInteger, nullable=False),
        sa.Column("end_time_ns", sa.BigInteger),
        sa.Column("content", sa.Text, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_spans_trace_start", "spans", ["trace_pk", "start_time_ns", "span_id"])
    op.create_index("ix_spans_name", "spans", ["name"])
    op.create_index("ix_spans_type", "spans", ["type"])
    op.create_table(
        "span_attributes",
        _trace_pk(),
        sa.Column("span_id", sa.String(16), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.String(500), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_span_attributes_key_value", "span_attributes", ["key", "value"])
    op.create_table(
        "trace_assessments",
        sa.Column("assessment_id", sa.String(64), primary_key=True),
        _trace_pk(primary_key=False),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("value_text", sa.String(500)),
        sa.Column("value_number", sa.Float(precision=53)),
        sa.Column("create_time_ms", sa.BigInteger, nullable=False),
        sa.Column("last_update_time_ms", sa.BigInteger, nullable=False),
        sa.Column("valid", sa.Boolean, nullable=False, server_default="1"),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_trace_assessments_trace", "trace_assessments", ["trace_pk"])
    op.create_index("ix_trace_assessments_name_value", "trace_assessments", ["name", "value_text"])
    op.create_table(
        "trace_run_links",
        _trace_pk(),
        sa.Column("run_id", sa.String(32), primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_trace_run_links_run", "trace_run_links", ["run_id"])
    op.create_table(
        "trace_prompt_links",
        _trace_pk(),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("version", sa.String(32), primary_key=True),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    for table in ("trace_prompt_links", "trace_run_links", "trace_assessments", "span_attributes", "spans",
                  "trace_metadata", "trace_tags", "traces"):
        op.drop_table(table)
