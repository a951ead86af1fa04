"""One pool per database: every transaction kind checks its connection back in, and a forked child
never uses nor closes its parent's connections (SQLite and PostgreSQL)."""

from __future__ import annotations

import gc
import os
import sqlite3

import pytest
from sqlalchemy import text

from modelyard.store import Database


def _table(db: Database) -> None:
    with db.fast_write() as tx:
        tx.execute("CREATE TABLE IF NOT EXISTS probe (who TEXT, n INTEGER, PRIMARY KEY (who, n))")


def _backend(db: Database) -> object:
    """Which server session (PostgreSQL) or connection object (SQLite: kept referenced by the caller,
    so no new one can take its place) a fast read runs on."""
    with db.fast_read() as tx:
        if db.is_sqlite:
            return tx.cur.connection
        return tx.one("SELECT pg_backend_pid()")[0]


def test_no_connection_leaks_whatever_the_transaction_ends_in(db_uri):
    db = Database(db_uri)
    _table(db)
    insert = db.sql("INSERT INTO probe VALUES (?, ?)")
    for i in range(30):
        with db.fast_write() as tx:
            tx.execute(insert, ("ok", i))
        with pytest.raises(Exception, match="(?i)unique|duplicate"), db.fast_write() as tx:
            tx.execute(insert, ("ok", i))
        with pytest.raises(RuntimeError), db.write() as conn:
            conn.execute(text("SELECT 1"))
            raise RuntimeError("boom")
        with pytest.raises(RuntimeError), db.unit_of_work():
            with db.fast_write() as tx:
                tx.execute(insert, ("uow", i))
            raise RuntimeError("boom")
        with db.unit_of_work(), db.write() as conn:
            conn.execute(text("SELECT 1"))
        with db.read() as conn:
            conn.execute(text("SELECT 1"))
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with db.fast_read() as tx:
        assert tx.one(db.sql("SELECT count(*) FROM probe WHERE who = ?"), ("uow",))[0] == 0
        assert tx.one(db.sql("SELECT count(*) FROM probe WHERE who = ?"), ("ok",))[0] == 30
    db.dispose()


def test_a_busy_sqlite_begin_checks_its_connection_back_in(tmp_path):
    path = tmp_path / "x.db"
    db = Database(f"sqlite:///{path}")
    _table(db)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"), db.unit_of_work(wait=False):
            pass
        db.writer.busy_timeout_ms = 1
        with pytest.raises(sqlite3.OperationalError, match="locked"), db.fast_write():
            pass
        db.writer.busy_timeout_ms = 60_000
    finally:
        holder.rollback()
        holder.close()
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with db.fast_write() as tx:  # the writer's connection, usable again, waits the busy timeout again
        assert tx.one("PRAGMA busy_timeout")[0] == 60_000
        tx.execute("INSERT INTO probe VALUES ('after', 1)")
    db.dispose()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_neither_uses_nor_closes_the_parents_connections(db_uri):
    db = Database(db_uri)
    _table(db)
    before = _backend(db)  # an idle connection in the parent's pool
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            ok = _backend(db) != before
            with db.fast_write() as tx:
                tx.execute(db.sql("INSERT INTO probe VALUES (?, ?)"), ("child", 1))
            with db.unit_of_work(), db.write() as conn:
                conn.execute(text("SELECT 1"))
            gc.collect()  # the parent's connection objects, dropped here, are gone now
            os.write(write, b"1" if ok else b"0")
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    assert os.read(read, 1) == b"1"
    _, status = os.waitpid(pid, 0)
    assert status == 0
    assert _backend(db) == before  # the parent's connection (its session) survived the child
    with db.fast_read() as tx:
        assert tx.one(db.sql("SELECT count(*) FROM probe WHERE who = ?"), ("child",))[0] == 1
    db.dispose()
