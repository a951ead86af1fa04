"""Trace search at scale: indexes for a page of traces over millions.

Traces by experiment and state or name in time order (``trace.status = 'ERROR'``, ``trace.name = '...'``
newest first: an index range, no scan), and tag and metadata values for ``tags.k = 'v'`` (a hash index on PostgreSQL:
its B-tree entries are bounded, values are not).

Revision ID: 0022
Revises: 0021
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_traces_experiment_state_time", "traces", ["experiment_id", "state", "request_time_ms", "id"])
    op.create_index("ix_traces_experiment_name_time", "traces", ["experiment_id", "name", "request_time_ms", "id"])
    for table in ("trace_tags", "trace_metadata"):
        op.create_index(f"ix_{table}_value", table, ["value"], postgresql_using="hash")


def downgrade() -> None:
    for table in ("trace_tags", "trace_metadata"):
        op.drop_index(f"ix_{table}_value", table_name=table)
    op.drop_index("ix_traces_experiment_name_time", table_name="traces")
    op.drop_index("ix_traces_experiment_state_time", table_name="traces")
