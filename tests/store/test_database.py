"""Database.fast_write / fast_read: bare connections, the engine's pragmas, many threads and processes."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading

import pytest

from modelyard.store import Database


def _table(db: Database) -> None:
    with db.fast_write() as tx:
        tx.execute("CREATE TABLE IF NOT EXISTS probe (who TEXT, n INTEGER, PRIMARY KEY (who, n))")


def _count(db: Database, who: str | None = None) -> int:
    with db.fast_read() as tx:
        if who is None:
            return tx.one("SELECT count(*) FROM probe")[0]
        return tx.one(db.sql("SELECT count(*) FROM probe WHERE who = ?"), (who,))[0]


def test_committed_on_exit_rolled_back_on_error(db_uri):
    db = Database(db_uri)
    _table(db)
    with db.fast_write() as tx:
        tx.execute(db.sql("INSERT INTO probe VALUES (?, ?)"), ("a", 1))
    with pytest.raises(RuntimeError), db.fast_write() as tx:
        tx.execute(db.sql("INSERT INTO probe VALUES (?, ?)"), ("a", 2))
        raise RuntimeError("boom")
    with pytest.raises(Exception, match="(?i)unique|constraint"), db.fast_write() as tx:
        tx.execute(db.sql("INSERT INTO probe VALUES (?, ?)"), ("a", 3))
        tx.execute(db.sql("INSERT INTO probe VALUES (?, ?)"), ("a", 1))  # duplicate: the whole transaction goes
    assert _count(db) == 1
    # A read never commits what it wrote.
    with db.fast_read() as tx:
        tx.execute(db.sql("INSERT INTO probe VALUES (?, ?)"), ("a", 9))
    assert _count(db) == 1
    db.dispose()


def test_sqlite_connections_are_reused_with_the_engines_pragmas(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}", sqlite_synchronous="NORMAL")
    _table(db)
    seen = set()
    for i in range(50):
        with db.fast_write() as tx:
            tx.execute("INSERT INTO probe VALUES (?, ?)", ("a", i))
            seen.add(id(tx.cur.connection))
    assert len(seen) == 1  # one connection, reused from the pool: no reconnect
    with db.fast_read() as tx:
        assert tx.one("PRAGMA journal_mode")[0] == "wal"
        assert tx.one("PRAGMA synchronous")[0] == 1  # NORMAL
        assert tx.one("PRAGMA foreign_keys")[0] == 1
        assert tx.one("PRAGMA busy_timeout")[0] == 60_000
        assert not tx.cur.connection.isolation_level  # we BEGIN ourselves
    db.dispose()
    with pytest.raises(sqlite3.ProgrammingError):  # disposed: the idle connection is closed
        tx.cur.connection.execute("SELECT 1")


def test_a_failed_begin_leaves_no_connection_in_a_transaction(tmp_path):
    path = tmp_path / "x.db"
    db = Database(f"sqlite:///{path}")
    _table(db)
    db.writer.busy_timeout_ms = 50
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="locked"), db.fast_write():
        pass
    holder.rollback()
    holder.close()
    with db.fast_write() as tx:  # the same connection, usable again
        tx.execute("INSERT INTO probe VALUES ('a', 1)")
    assert _count(db) == 1
    db.dispose()


def test_many_threads_write_at_once(db_uri):
    db = Database(db_uri)
    _table(db)
    errors: list[BaseException] = []

    def work(who: str) -> None:
        try:
            for n in range(40):
                with db.fast_write() as tx:
                    tx.execute(db.sql("INSERT INTO probe VALUES (?, ?)"), (who, n))
                    tx.one(db.sql("SELECT count(*) FROM probe WHERE who = ?"), (who,))
                if n % 10 == 0:
                    assert _count(db, who) == n + 1
        except BaseException as exc:  # noqa: BLE001  (reported by the test thread)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _count(db) == 8 * 40
    db.dispose()


def _write_from_process(uri: str, who: str, n: int) -> None:
    db = Database(uri)
    for i in range(n):
        with db.fast_write() as tx:
            tx.execute("INSERT INTO probe VALUES (?, ?)", (who, i))
    db.dispose()


def test_several_processes_on_one_sqlite_file(tmp_path):
    uri = f"sqlite:///{tmp_path / 'x.db'}"
    db = Database(uri)
    _table(db)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_from_process, args=(uri, f"p{i}", 100)) for i in range(3)]
    for p in procs:
        p.start()
    _write_from_process(uri, "main", 100)
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert _count(db) == 400
    db.dispose()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_its_own_connections(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    _table(db)
    with db.fast_read() as tx:
        parent_conn = tx.cur.connection  # kept alive, so no new object can take its place
    with db.fast_write() as tx:
        parent_writer = tx.cur.connection  # the writer's
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: must not reuse the parent's connection
        try:
            with db.fast_write() as tx:
                tx.execute("INSERT INTO probe VALUES ('child', 1)")
                ok = tx.cur.connection is not parent_conn and tx.cur.connection is not parent_writer
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)
    assert _count(db, "child") == 1
    db.dispose()


def _backend_pid(db: Database) -> int:
    with db.fast_read() as tx:
        return tx.one("SELECT pg_backend_pid()")[0]



def test_postgres_transactions_reuse_one_connection(pg_db):
    first = _backend_pid(pg_db)
    _table(pg_db)
    assert [_backend_pid(pg_db) for _ in range(5)] == [first] * 5


def test_a_postgres_backend_that_ended_while_idle_is_replaced_without_an_error(pg_db):
    import select

    _table(pg_db)
    with pg_db.fast_read() as tx:
        gone = tx.one("SELECT pg_backend_pid()")[0]
        idle_fd = tx.cur.connection.fileno()  # back in the pool after the block, idle
    with Database(pg_db.uri).fast_write() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (gone,))
    for _ in range(100):  # the backend's goodbye reaches the idle socket
        if select.select([idle_fd], [], [], 0.05)[0]:
            break
    with pg_db.fast_write() as tx:  # no "server closed the connection" for the caller
        tx.execute("INSERT INTO probe VALUES ('after', 1)")
    assert _count(pg_db, "after") == 1
    assert _backend_pid(pg_db) != gone


def test_a_postgres_connection_left_in_a_failed_transaction_is_not_reused(pg_db):
    _table(pg_db)
    with pytest.raises(ValueError), pg_db.fast_write() as tx:
        tx.execute("INSERT INTO probe VALUES ('lost', 1)")
        raise ValueError("boom")
    with pytest.raises(Exception, match="duplicate|unique"), pg_db.fast_write() as tx:
        tx.execute("INSERT INTO probe VALUES ('dup', 1)")
        tx.execute("INSERT INTO probe VALUES ('dup', 1)")
    with pg_db.fast_write() as tx:
        tx.execute("INSERT INTO probe VALUES ('ok', 1)")
    assert (_count(pg_db, "lost"), _count(pg_db, "dup"), _count(pg_db, "ok")) == (0, 0, 1)
