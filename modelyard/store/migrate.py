"""Bring a database to the newest schema, safely with several processes at once."""

from __future__ import annotations

import os
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect, text

HEAD = "0026"
_HERE = os.path.join(os.path.dirname(__file__), "migrations")


def current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if found is None else str(found)


def migrate(engine: Engine) -> None:
    """Upgrade ``engine``'s database to :data:`HEAD` (a no-op when already there).

    The check is one query; Alembic is loaded only when there is work to do.
    Concurrent migrators serialise on a write lock (SQLite ``BEGIN IMMEDIATE``,
    a PostgreSQL advisory lock) and re-check under it.

    On SQLite foreign keys are off while migrations run: a migration that changes a constraint copies
    the table and drops the old one, which with them on would cascade into (delete) its children.
    ``PRAGMA foreign_key_check`` then proves every reference still holds before the commit.
    """
    with engine.connect() as conn:
        if current_revision(conn) == HEAD:
            return
    with engine.connect().execution_options(write=True) as conn:
        sqlite = engine.dialect.name == "sqlite"
        raw: Any = conn.connection.dbapi_connection
        if sqlite:
            raw.execute("PRAGMA foreign_keys=OFF")  # not in a transaction yet: it takes effect
        try:
            with conn.begin():
                if not sqlite:
                    conn.execute(text("SELECT pg_advisory_xact_lock(7275829)"))
                if current_revision(conn) == HEAD:
                    return
                cfg = Config()
                cfg.set_main_option("script_location", _HERE)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, HEAD)
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"Migration left broken references, rolled back: {broken[:5]}")
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")
