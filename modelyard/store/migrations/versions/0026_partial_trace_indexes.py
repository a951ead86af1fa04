"""Traces' run and session indexes hold only the traces that have one.

``ix_traces_run`` and ``ix_traces_session`` had an entry for every trace, NULL for most (a trace outside a
run, without a session): a B-tree insert and a page for every new trace's commit to write, for entries no
search reads. Now partial (``WHERE run_id IS NOT NULL``): every query of them compares the column with a value
(``=``, ``IN``, ``LIKE``), which SQLite and PostgreSQL both know implies ``IS NOT NULL``, so they still use them.

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

INDEXES = {"ix_traces_run": "run_id", "ix_traces_session": "session_id"}


def upgrade() -> None:
    for name, column in INDEXES.items():
        op.drop_index(name, table_name="traces")
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, "traces", [column], sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name, column in INDEXES.items():
        op.drop_index(name, table_name="traces")
        op.create_index(name, "traces", [column])
