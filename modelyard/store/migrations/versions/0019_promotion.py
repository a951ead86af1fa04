"""Promotion: policies, gate runs, transition requests and their events, serving rollouts.

Revision ID: 0019
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "promotion_policies",
        sa.Column("model_name", sa.String(256), nullable=False),
        sa.Column("alias", sa.String(256), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(256)),
        sa.PrimaryKeyConstraint("model_name", "alias", name="pk_promotion_policies"),
    )
    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_name", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("alias", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("champion_version", sa.Integer),
        sa.Column("checks", sa.Text, nullable=False),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("request_id", sa.Integer),
        sa.Column("user_id", sa.String(256)),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_promotions_version", "promotions", ["model_name", "version", "id"])
    op.create_table(
        "transition_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_name", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("alias", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(256)),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_transition_requests_model", "transition_requests", ["model_name", "status"])
    op.create_table(
        "transition_request_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.Integer, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(256)),
        sa.Column("comment", sa.Text),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_transition_request_events_request", "transition_request_events", ["request_id", "id"])
    op.create_table(
        "rollouts",
        sa.Column("model_name", sa.String(256), nullable=False),
        sa.Column("alias", sa.String(256), nullable=False),
        sa.Column("stable_version", sa.String(64), nullable=False),
        sa.Column("candidate_version", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(256)),
        sa.PrimaryKeyConstraint("model_name", "alias", name="pk_rollouts"),
    )


def downgrade() -> None:
    op.drop_table("rollouts")
    op.drop_index("ix_transition_request_events_request", table_name="transition_request_events")
    op.drop_table("transition_request_events")
    op.drop_index("ix_transition_requests_model", table_name="transition_requests")
    op.drop_table("transition_requests")
    op.drop_index("ix_promotions_version", table_name="promotions")
    op.drop_table("promotions")
    op.drop_table("promotion_policies")
