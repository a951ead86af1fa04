"""Latest metrics indexed by (key, is_nan, value): a search ordered by a metric walks its finite values in order.

The old (key, value) index made a database look up every row's ``is_nan`` in
the table while walking a key's values; with the flag in the index the walk
reads the index alone, and NaN rows (value 0) are found by the same index.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_latest_metrics_key_nan_value", "latest_metrics", ["key", "is_nan", "value"])
    op.drop_index("ix_latest_metrics_key_value", "latest_metrics")


def downgrade() -> None:
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key", "value"])
    op.drop_index("ix_latest_metrics_key_nan_value", "latest_metrics")
