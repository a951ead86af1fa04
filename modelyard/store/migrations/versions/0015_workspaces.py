"""Workspaces (MLflow 3.17's): experiments and registered models belong to one; existing ones to ``default``.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    workspaces = op.create_table(
        "workspaces",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("default_artifact_root", sa.Text, nullable=True),
        sa.Column("protected_aliases", sa.Text, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(workspaces, [{"name": "default", "description": "The default workspace", "created_ms": 0}])
    for table in ("experiments", "registered_models"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("workspace", sa.String(63), nullable=False, server_default="default"))
        op.create_index(f"{table}_workspace", table, ["workspace"])


def downgrade() -> None:
    for table in ("experiments", "registered_models"):
        op.drop_index(f"{table}_workspace", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("workspace")
    op.drop_table("workspaces")
