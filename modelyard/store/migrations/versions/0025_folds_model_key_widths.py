"""Columns that name a registered model by its key, ``<workspace>:<name>``, as wide as the longest key.

Outside the default workspace a model's grants, reference profiles, monitors, served requests, promotion
policies, gate runs, transition requests and rollouts name it ``<workspace>:<name>``: up to 63 + 1 + 256 = 320
characters, where the columns held 255 or 256. PostgreSQL refused such a row (SQLite ignores a VARCHAR's
width). The registry audit's ``key`` names a grant as ``<user> on registered_model <key>``: TEXT.

On PostgreSQL widening a VARCHAR rewrites neither the table nor its indexes; on SQLite a table is copied.

Monitor names become per workspace as well: a monitor of a model outside the default workspace is stored by
the key ``<workspace>:<name>`` (at most 63 + 1 + 128 characters: the columns fit), its results and alerts
with it. Going back down fails while two workspaces hold a monitor of the same name.

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


def _rename_monitors(down: bool) -> None:
    """Monitors of a model outside the default workspace (their model's key holds ':'): ``name`` to
    ``<workspace>:name`` (``down``: back), in monitors, monitor_results and monitor_alerts."""
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT name, model_name FROM monitors WHERE model_name LIKE '%:%'")).all()
    for name, model in rows:
        workspace = model.partition(":")[0]
        old, new = (name, f"{workspace}:{name}") if not down else (name, name.partition(":")[2] or name)
        if old == new or (not down and ":" in name):
            continue
        conn.execute(sa.text("UPDATE monitors SET name = :new WHERE name = :old"), {"new": new, "old": old})
        for table in ("monitor_results", "monitor_alerts"):
            conn.execute(sa.text(f"UPDATE {table} SET monitor_name = :new WHERE monitor_name = :old"),
                         {"new": new, "old": old})


def upgrade() -> None:
    _rename_monitors(down=False)
    for table, (column, before, nullable) in WIDENED.items():
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.String(before), type_=sa.String(KEY),
                               existing_nullable=nullable)
    with op.batch_alter_table("registry_audit") as batch:
        batch.alter_column("key", existing_type=sa.String(256), type_=sa.Text(), existing_nullable=True)


def downgrade() -> None:
    _rename_monitors(down=True)
    with op.batch_alter_table("registry_audit") as batch:
        batch.alter_column("key", existing_type=sa.Text(), type_=sa.String(256), existing_nullable=True)
    for table, (column, before, nullable) in WIDENED.items():
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.String(KEY), type_=sa.String(before),
                               existing_nullable=nullable)
