"""Names of experiments and registered models unique per workspace, as MLflow 3.17's, not across the server.

Revision ID: 0020
Revises: 0019
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# The unique constraint on ``name`` was made unnamed (0001, 0002): PostgreSQL called it <table>_name_key; on
# SQLite batch mode finds it by this convention when it copies the table (foreign keys off: see migrate.py).
_CONVENTION = {"uq": "%(table_name)s_%(column_0_name)s_key"}
TABLES = ("experiments", "registered_models")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, naming_convention=_CONVENTION) as batch:
            batch.drop_constraint(f"{table}_name_key", type_="unique")
            batch.create_unique_constraint(f"uq_{table}_workspace_name", ["workspace", "name"])


def downgrade() -> None:
    """Fails if one name is used in two workspaces: rename one first."""
    for table in TABLES:
        with op.batch_alter_table(table, naming_convention=_CONVENTION) as batch:
            batch.drop_constraint(f"uq_{table}_workspace_name", type_="unique")
            batch.create_unique_constraint(f"{table}_name_key", ["name"])

