"""Bring a database to the newest schema, safely with several processes at once."""

from __future__ import annotations

import os

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect, text

HEAD = "0022"
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
    """
    with engine.connect() as conn:
        if current_revision(conn) == HEAD:
            return
    with engine.connect().execution_options(write=True) as conn:
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(7275829)"))
            if current_revision(conn) == HEAD:
                return
            cfg = Config()
            cfg.set_main_option("script_location", _HERE)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, HEAD)
