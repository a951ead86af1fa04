"""Groups of accounts and their grants (authentication: a grant to a group applies to its members).

Revision ID: 0014
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_groups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "auth_group_members",
        sa.Column("group_id", sa.Integer, sa.ForeignKey("auth_groups.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("auth_users.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("auth_group_members_user", "auth_group_members", ["user_id"])
    op.create_table(
        "auth_group_grants",
        sa.Column("group_id", sa.Integer, sa.ForeignKey("auth_groups.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("resource_type", sa.String(32), primary_key=True),
        sa.Column("resource_id", sa.String(255), primary_key=True),
        sa.Column("level", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("auth_group_grants")
    op.drop_index("auth_group_members_user", table_name="auth_group_members")
    op.drop_table("auth_group_members")
    op.drop_table("auth_groups")
