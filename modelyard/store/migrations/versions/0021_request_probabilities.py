"""The serving request log keeps class probabilities: ``inference_requests.probabilities`` (JSON text, nullable).

Filled when the served model has ``predict_proba``; monitoring estimates a
classifier's performance from them before labels arrive (CBPE).

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inference_requests") as batch:
        batch.add_column(sa.Column("probabilities", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inference_requests") as batch:
        batch.drop_column("probabilities")
