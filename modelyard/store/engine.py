"""Engines for the store: SQLite tuned for a local folder, PostgreSQL for servers."""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool

from ..errors import InvalidParameterValue
from ..extras import require


def normalize_db_uri(uri: str) -> str:
    """Map user-facing database URIs to SQLAlchemy URLs with our drivers."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix):]
    if uri.startswith(("sqlite:", "postgresql+psycopg://")):
        return uri
    raise InvalidParameterValue(
        f"Unsupported backend store URI {uri!r}: use sqlite:///PATH or postgresql://USER@HOST:PORT/DB."
    )


# How long a SQLite write waits for another connection's write lock before "database is locked".
BUSY_TIMEOUT_MS = 60_000


def make_engine(uri: str, *, sqlite_synchronous: str = "FULL", busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """Create an engine. SQLite gets WAL, a busy timeout and explicit BEGIN modes.

    Write transactions on SQLite start with ``BEGIN IMMEDIATE`` (open them with
    ``conn.execution_options(write=True)``) so concurrent writers queue on the
    lock instead of failing with "database is locked" on upgrade.

    The engine's pool serves units of work and Core transactions (``database.py``): it keeps up to
    ``pool_size`` idle connections and opens more when more threads need one at once
    (closed again on return), so no caller ever waits on the pool itself; the most
    recently used first, so the idle ones really idle. No
    ``pool_pre_ping`` on PostgreSQL: ``database.py`` checks an idle connection
    without a round trip.
    """
    url = normalize_db_uri(uri)
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            **({"poolclass": NullPool} if path in ("", ":memory:") else {"pool_size": 8, "max_overflow": -1, "pool_use_lifo": True}),
        )
        _tune_sqlite(engine, sqlite_synchronous, busy_timeout_ms)
        return engine
    require("psycopg", "A postgresql:// backend store URI")
    return create_engine(url, pool_size=10, max_overflow=-1, pool_use_lifo=True)


def _enable_wal(cur: Any, busy_timeout_ms: int) -> None:
    """Switch to WAL. The switch needs a moment alone with the file and does not wait
    on the busy timeout, so processes opening a new database together retry it."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) \
                    or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _tune_sqlite(engine: Engine, synchronous: str, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        _enable_wal(cur, busy_timeout_ms)
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.connection.dbapi_connection.in_transaction:
            return  # begun on the driver connection already (a unit of work: database.py)
        mode = "IMMEDIATE" if conn.get_execution_options().get("write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")
