"""Columns that name a registered model by its key, ``<workspace>:<name>``, as wide as the longest key.

Outside the default workspace a model's grants, reference profiles, monitors, served requests, promotion
policies, gate runs, transition requests and rollouts name it ``<workspace>:<name>``: up to 63 + 1 + 256 = 320
characters, where the columns held 255 or 256. PostgreSQL refused such a row (SQLite ignores a VARCHAR's
width). The registry audit's ``key`` names a grant as ``<user> on registered_model <key>``: TEXT.

On PostgreSQL widening a VARCHAR rewrites neither the table nor its indexes; on SQLite a table is copied.

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

KEY = 320
# table: (column, width before, nullable)
WIDENED = {
    "auth_grants": ("resource_id", 255, False),
    "auth_group_grants": ("resource_id", 255, False),
    "inference_requests": ("model_name", 256, False),
    "monitoring_references": ("model_name", 256, False),
    "monitors": ("model_name", 256, False),
    "promotion_policies": ("model_name", 256, False),
    "promotions": ("model_name", 256, False),
    "transition_requests": ("model_name", 256, False),
    "rollouts": ("model_name", 256, False),
}


def upgrade() -> None:
    for table, (column, before, nullable) in WIDENED.items():
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.String(before), type_=sa.String(KEY),
                               existing_nullable=nullable)
    with op.batch_alter_table("registry_audit") as batch:
        batch.alter_column("key", existing_type=sa.String(256), type_=sa.Text(), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("registry_audit") as batch:
        batch.alter_column("key", existing_type=sa.Text(), type_=sa.String(256), existing_nullable=True)
    for table, (column, before, nullable) in WIDENED.items():
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.String(KEY), type_=sa.String(before),
                               existing_nullable=nullable)
