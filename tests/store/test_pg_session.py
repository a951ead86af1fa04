"""PostgreSQL session settings of the store's connections: JIT off, the URI's own options kept."""

from __future__ import annotations

import pytest

from modelyard.store import Database


@pytest.fixture
def pg_uri(tmp_path):
    from ..conftest import fresh_database

    with fresh_database("postgresql", tmp_path) as uri:
        yield uri


def test_every_connection_has_jit_off(pg_uri):
    db = Database(pg_uri)
    try:
        with db.fast_read() as tx:
            assert tx.one("SHOW jit")[0] == "off"
        with db.read() as conn:
            assert conn.exec_driver_sql("SHOW jit").scalar() == "off"
        with pytest.raises(RuntimeError), db.fast_write() as tx:
            raise RuntimeError("rolled back")  # a rollback keeps the session's settings
        with db.fast_write() as tx:
            assert tx.one("SHOW jit")[0] == "off"
    finally:
        db.dispose()


def test_options_of_the_uri_are_kept(pg_uri, monkeypatch):
    monkeypatch.setenv("PGOPTIONS", "-c work_mem=7MB")
    db = Database(pg_uri + "?options=-c%20statement_timeout%3D12345")
    try:
        with db.fast_read() as tx:
            assert tx.one("SHOW statement_timeout")[0] == "12345ms"
            assert tx.one("SHOW jit")[0] == "off"
    finally:
        db.dispose()


def test_pgoptions_is_kept_when_the_uri_has_none(pg_uri, monkeypatch):
    monkeypatch.setenv("PGOPTIONS", "-c work_mem=7MB")
    db = Database(pg_uri)
    try:
        with db.fast_read() as tx:
            assert (tx.one("SHOW work_mem")[0], tx.one("SHOW jit")[0]) == ("7MB", "off")
    finally:
        db.dispose()
