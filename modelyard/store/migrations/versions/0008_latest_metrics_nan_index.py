"""Reserved: an index on latest_metrics (key, is_nan, value), withdrawn.

It let SQLite walk a metric's finite values straight from the index, but
PostgreSQL without statistics (a freshly filled database) picked it for
metric *filters* inside a per-run loop and read ~1.5 million index rows for
a 2,000-run search. A search over a big experiment now forces the index walk
in SQL instead (``store/search.py``), so the (key, value) index stays. This
revision changes nothing; it keeps the chain (0009 revises it).

Revision ID: 0008
Revises: 0007
"""

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
