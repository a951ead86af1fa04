"""Pipeline tick leases: who claimed a schedule tick and until when, so an abandoned claim can be taken over.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Ticks claimed before this revision keep no lease (NULL): they are never taken over.
    op.add_column("pipeline_ticks", sa.Column("lease_owner", sa.String(32)))
    op.add_column("pipeline_ticks", sa.Column("lease_expires", sa.BigInteger))
    op.create_index("ix_pipeline_ticks_status_lease", "pipeline_ticks", ["status", "lease_expires"])


def downgrade() -> None:
    op.drop_index("ix_pipeline_ticks_status_lease", "pipeline_ticks")
    with op.batch_alter_table("pipeline_ticks") as batch:
        batch.drop_column("lease_expires")
        batch.drop_column("lease_owner")
