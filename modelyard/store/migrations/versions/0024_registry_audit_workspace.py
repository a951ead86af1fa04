"""The registry's audit trail by workspace: each row names the workspace of the model it changed.

Names of registered models repeat across workspaces (0020): the trail of ``churn`` in ``prod`` must not show
``dev``'s. Rows written before this migration were all of models of some workspace; those of the default one
keep ``default``, the others take their model's workspace when the model still exists.

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registry_audit") as batch:
        batch.add_column(sa.Column("workspace", sa.String(63), nullable=False, server_default="default"))
    op.execute("UPDATE registry_audit SET workspace = (SELECT registered_models.workspace FROM registered_models"
               " WHERE registered_models.id = registry_audit.registered_model_id)"
               " WHERE registered_model_id IS NOT NULL AND EXISTS (SELECT 1 FROM registered_models"
               " WHERE registered_models.id = registry_audit.registered_model_id)")
    op.create_index("ix_registry_audit_workspace_name", "registry_audit", ["workspace", "name", "id"])


def downgrade() -> None:
    op.drop_index("ix_registry_audit_workspace_name", table_name="registry_audit")
    with op.batch_alter_table("registry_audit") as batch:
        batch.drop_column("workspace")
