"""Pipeline trigger event leases: who claimed an event and until when, so an abandoned claim can be taken over.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Events claimed before this revision keep no lease (NULL): they are never taken over.
    op.add_column("pipeline_trigger_events", sa.Column("lease_owner", sa.String(32)))
    op.add_column("pipeline_trigger_events", sa.Column("lease_expires", sa.BigInteger))
    op.create_index("ix_pipeline_trigger_events_status_lease", "pipeline_trigger_events", ["status", "lease_expires"])


def downgrade() -> None:
    op.drop_index("ix_pipeline_trigger_events_status_lease", "pipeline_trigger_events")
    with op.batch_alter_table("pipeline_trigger_events") as batch:
        batch.drop_column("lease_expires")
        batch.drop_column("lease_owner")
