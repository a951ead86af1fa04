"""Registry webhooks: subscriptions, their events and the delivery outbox.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _webhook_fk() -> sa.ForeignKey:
    return sa.ForeignKey("webhooks.webhook_id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("webhook_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.Column("deleted_time", sa.BigInteger),
    )
    op.create_index("ix_webhooks_creation_time", "webhooks", ["creation_time"])
    op.create_table(
        "webhook_events",
        sa.Column("webhook_id", sa.String(36), _webhook_fk(), primary_key=True),
        sa.Column("event", sa.String(64), primary_key=True),
    )
    op.create_index("ix_webhook_events_event", "webhook_events", ["event"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(36), nullable=False, unique=True),
        sa.Column("webhook_id", sa.String(36), _webhook_fk(), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("last_attempt_time", sa.BigInteger),
        sa.Column("delivered_time", sa.BigInteger),
        sa.Column("response_status", sa.Integer),
        sa.Column("response_body", sa.Text),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_webhook_deliveries_webhook", "webhook_deliveries", ["webhook_id", "id"])


def downgrade() -> None:
    for name in ("webhook_deliveries", "webhook_events", "webhooks"):
        op.drop_table(name)
