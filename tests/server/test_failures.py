"""Busy or locked is read from SQLite's error code, not the exception's text, whether the driver's
error comes bare or wrapped by SQLAlchemy: answered 503 TEMPORARILY_UNAVAILABLE."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

from modelyard.server.failures import error_payload, is_busy
from modelyard.store import Database


def test_busy_from_the_error_code_bare_or_wrapped(tmp_path):
    path = tmp_path / "x.db"
    db = Database(f"sqlite:///{path}")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError) as bare, db.unit_of_work(wait=False):
            pass
        with pytest.raises(Exception) as wrapped, db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA busy_timeout=1")  # waits 1 ms for the lock, not a minute
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
    finally:
        holder.rollback()
        holder.close()
        db.dispose()
    for caught in (bare.value, wrapped.value):
        assert is_busy(caught), repr(caught)
        status, body = error_payload(caught, "POST", "/x")
        assert status == 503 and body["error_code"] == "TEMPORARILY_UNAVAILABLE"


def test_text_alone_is_not_busy():
    assert not is_busy(sqlite3.OperationalError("database is locked"))  # made up: no SQLite error code
    assert not is_busy(RuntimeError("busy"))
    status, body = error_payload(sqlite3.OperationalError("no such table: x"), "GET", "/y")
    assert status == 500 and body["error_code"] == "INTERNAL_ERROR"
