"""A unit of work that does not wait (``db.unit_of_work(wait=False)``, the server's event loop
answering calls that arrived together): several calls' writes in one SQLite transaction, committed once.

Each fast_write inside it is a savepoint (a failure undoes only its own
writes), reads see the unit's writes, nothing is visible to others or durable
before the unit commits, the unit never waits on another writer, and a unit
whose transaction SQLite ended commits nothing and tells the caches.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from modelyard.entities import Metric
from modelyard.server.failures import is_busy
from modelyard.store import Database
from modelyard.store.database import UnitLost

from ..conftest import make_service


@pytest.fixture
def db(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'g.db'}")
    with database.fast_write() as tx:
        tx.execute("CREATE TABLE probe (n INTEGER PRIMARY KEY)")
    yield database
    database.dispose()


def _others_see(db: Database) -> list[int]:
    """What a separate connection (another process, say) reads: committed rows only."""
    other = sqlite3.connect(db.engine.url.database)
    try:
        return [n for (n,) in other.execute("SELECT n FROM probe ORDER BY n")]
    finally:
        other.close()


def test_each_fast_write_is_a_savepoint_and_the_group_commits_once(db):
    with db.unit_of_work(wait=False):
        with db.fast_write() as tx:
            tx.execute("INSERT INTO probe VALUES (1)")
        with pytest.raises(RuntimeError), db.fast_write() as tx:
            tx.execute("INSERT INTO probe VALUES (2)")
            raise RuntimeError("this call fails")
        with pytest.raises(sqlite3.IntegrityError), db.fast_write() as tx:
            tx.execute("INSERT INTO probe VALUES (3)")
            tx.execute("INSERT INTO probe VALUES (1)")  # a duplicate: this call's writes go, 3 included
        with db.fast_write() as tx:
            tx.execute("INSERT INTO probe VALUES (4)")
        with db.fast_read() as tx:  # a call sees what the calls before it wrote
            assert [n for (n,) in tx.all("SELECT n FROM probe ORDER BY n")] == [1, 4]
        assert _others_see(db) == []  # not committed yet: nobody may be answered
    assert _others_see(db) == [1, 4]


def test_a_group_that_raises_commits_nothing(db):
    with pytest.raises(KeyError), db.unit_of_work(wait=False):
        with db.fast_write() as tx:
            tx.execute("INSERT INTO probe VALUES (1)")
        raise KeyError("the caller gave up")
    assert _others_see(db) == []
    with db.fast_write() as tx:  # and the next transaction starts clean
        tx.execute("INSERT INTO probe VALUES (2)")
    assert _others_see(db) == [2]


def test_a_group_never_waits_on_another_writer(db):
    holder = sqlite3.connect(db.engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError) as caught, db.unit_of_work(wait=False):
            pytest.fail("the group ran while another connection held the write lock")
        assert is_busy(caught.value)
    finally:
        holder.rollback()
        holder.close()
    with db.unit_of_work(wait=False), db.fast_write() as tx:  # the lock is free again
        tx.execute("INSERT INTO probe VALUES (1)")
    assert _others_see(db) == [1]


def test_a_lost_transaction_fails_every_call_after_it_and_runs_the_hooks(db):
    calls: list[str] = []
    db.after_rollback.append(lambda: calls.append("rolled back"))
    with pytest.raises(UnitLost), db.unit_of_work(wait=False):
        with db.fast_write() as tx:
            tx.execute("INSERT INTO probe VALUES (1)")
        with db.fast_read() as tx:
            tx.execute("ROLLBACK")  # what SQLite itself does on an I/O error or a full disk
        with pytest.raises(UnitLost), db.fast_write() as tx:
            tx.execute("INSERT INTO probe VALUES (2)")
    assert calls == ["rolled back"]
    assert _others_see(db) == []


def test_metric_keys_interned_in_a_lost_group_are_forgotten(tmp_path):
    """SQLite hands a rolled-back key's id out again: a cached id would file points under another key."""
    svc = make_service(f"sqlite:///{tmp_path / 'k.db'}", tmp_path)
    try:
        run_id = svc.runs.create(svc.experiments.create("keys")).info.run_id
        db = svc.store.db
        with pytest.raises(UnitLost), db.unit_of_work(wait=False):
            svc.runs.log_metric(run_id, Metric("first", 1.0, 1, 0))
            with db.fast_read() as tx:
                tx.execute("ROLLBACK")
        svc.runs.log_metric(run_id, Metric("second", 2.0, 2, 0))  # may take the id "first" had
        svc.runs.log_metric(run_id, Metric("first", 3.0, 3, 0))
        assert [m.value for m in svc.runs.metric_history(run_id, "second").items] == [2.0]
        assert [m.value for m in svc.runs.metric_history(run_id, "first").items] == [3.0]
    finally:
        svc.close()
