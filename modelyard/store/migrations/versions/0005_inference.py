"""inference tables: the serving request log and ground-truth feedback.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inference_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(64), nullable=False, unique=True),
        sa.Column("model_name", sa.String(256), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("outputs", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_inference_requests_model_time", "inference_requests", ["model_name", "model_version", "timestamp_ms"]
    )
    op.create_table(
        "inference_feedback",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("inference_feedback")
    op.drop_index("ix_inference_requests_model_time", table_name="inference_requests")
    op.drop_table("inference_requests")
