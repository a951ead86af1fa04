"""One database: its engine, its transactions and the SQL dialect details."""

from __future__ import annotations

import os
import select
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine, event

from .engine import make_engine
from .migrate import migrate


class Tx:
    """A DB-API cursor inside a transaction, with the three calls the hot paths need."""

    __slots__ = ("cur",)

    def __init__(self, cur: Any) -> None:
        self.cur = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self.cur.execute(sql, params)
        return self.cur

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cur.executemany(sql, rows)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self.cur.execute(sql, params)
        return self.cur.fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        self.cur.execute(sql, params)
        return self.cur.fetchall()


class _Pooled:
    """Connections from SQLAlchemy's pool (PostgreSQL, in-memory SQLite): checked in by closing."""

    __slots__ = ("engine",)

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def checkout(self) -> Any:
        return self.engine.raw_connection()

    def checkin(self, conn: Any) -> None:
        conn.close()  # back to the pool, which rolls back anything left open

    def close(self) -> None:
        pass


class _Freelist:
    """Bare ``sqlite3`` connections for the hot paths, reused without a pool's bookkeeping.

    Each connection is opened by the engine (so it gets exactly the pragmas of
    ``engine.py``: WAL, busy timeout, ``synchronous``, foreign keys) and then
    detached from its pool. A transaction takes one off the list and puts it
    back when done: ``list.pop``/``append`` are atomic, so any number of threads
    share the list without a lock, and each connection is used by one thread at
    a time. Several processes on one file coordinate through SQLite's own locks,
    as before.
    """

    __slots__ = ("__weakref__", "closed", "engine", "idle", "max_idle", "setup")

    def __init__(self, engine: Engine, max_idle: int = 8, setup: str = "") -> None:
        self.engine = engine
        self.idle: list[sqlite3.Connection] = []
        self.max_idle = max_idle
        self.setup = setup  # a statement run once on each new connection
        self.closed = False
        _FREELISTS.add(self)

    def checkout(self) -> sqlite3.Connection:
        try:
            return self.idle.pop()
        except IndexError:
            fairy = self.engine.raw_connection()
            fairy.detach()
            conn: sqlite3.Connection = fairy.dbapi_connection  # type: ignore[assignment]
            if self.setup:
                conn.execute(self.setup)
            return conn

    def checkin(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction or self.closed or len(self.idle) >= self.max_idle:
            conn.close()  # a failed rollback leaves a transaction open: never reuse that
        else:
            self.idle.append(conn)

    def close(self) -> None:
        self.closed = True
        while self.idle:
            self.idle.pop().close()

    def forget(self) -> None:
        """In a forked child: drop the parent's connections unused (SQLite's rule across fork)."""
        self.idle = []


class _PgFreelist:
    """psycopg connections for the hot paths, without a round trip to check each one out.

    SQLAlchemy's ``pool_pre_ping`` sends a ``SELECT 1`` before every checkout: on
    a small write that is one round trip in five, paid by us and by PostgreSQL.
    Here an idle connection is checked without asking the server: a backend that
    ended (server restart, ``pg_terminate_backend``, idle timeout) leaves its
    socket readable (the FATAL message, or EOF), while a healthy idle one has
    nothing to read. Only a connection idle for longer than ``ping_after``
    seconds, whose peer may have vanished without a word, is pinged.
    """

    __slots__ = ("__weakref__", "closed", "engine", "idle", "max_idle", "ping_after")

    def __init__(self, engine: Engine, max_idle: int = 10, ping_after: float = 30.0) -> None:
        self.engine = engine
        self.idle: list[tuple[Any, float]] = []
        self.max_idle = max_idle
        self.ping_after = ping_after
        self.closed = False
        _FREELISTS.add(self)

    def checkout(self) -> Any:
        while True:
            try:
                conn, since = self.idle.pop()
            except IndexError:
                fairy = self.engine.raw_connection()
                fairy.detach()
                return fairy.dbapi_connection
            if self._alive(conn, since):
                return conn
            _close_quietly(conn)

    def _alive(self, conn: Any, since: float) -> bool:
        if conn.closed or conn.broken:
            return False
        try:
            if select.select([conn.fileno()], [], [], 0)[0]:
                return False  # an idle connection has nothing to say unless its backend is gone
            if time.monotonic() - since > self.ping_after:
                conn.execute("SELECT 1")
                conn.rollback()
        except Exception:  # noqa: BLE001  (any failure here means: do not use this one)
            return False
        return True

    def checkin(self, conn: Any) -> None:
        if self.closed or conn.closed or conn.broken or conn.info.transaction_status != 0 \
                or len(self.idle) >= self.max_idle:
            _close_quietly(conn)  # 0 = IDLE: a transaction left open is never reused
        else:
            self.idle.append((conn, time.monotonic()))

    def close(self) -> None:
        self.closed = True
        while self.idle:
            _close_quietly(self.idle.pop()[0])

    def forget(self) -> None:
        """In a forked child: never use nor close the parent's connections (closing would end
        the parent's sessions: libpq says goodbye on the shared socket). Kept referenced forever."""
        _ORPHANS.extend(conn for conn, _ in self.idle)
        self.idle = []


# Our statements are short: compiling one to machine code costs more than it saves. JIT starts
# past jit_above_cost, which a search over a big experiment exceeds: 100,000 runs, the standard
# filter, PostgreSQL 15: 116 -> 93 ms of backend CPU and 208 -> 152 ms wall per query without it.
_PG_SESSION = "-c jit=off"


def _pg_session_options(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
    """Connect with our session settings after any ``options`` of the URI (or ``PGOPTIONS``,
    which an explicit ``options`` would otherwise replace): no extra round trip, and a
    transaction rolled back cannot undo them as it would a ``SET``."""
    given = cparams.get("options", os.environ.get("PGOPTIONS", ""))
    cparams["options"] = f"{given} {_PG_SESSION}".strip()


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001, S110  (already broken: nothing left to close)
        pass


_ORPHANS: list[Any] = []
_FREELISTS: weakref.WeakSet[_Freelist | _PgFreelist] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for freelist in list(_FREELISTS):
        freelist.forget()


os.register_at_fork(after_in_child=_after_fork_in_child)


class _Transaction:
    """``with db.fast_write() as tx``: one connection, one transaction, committed or rolled back."""

    __slots__ = ("begin", "commit", "conn", "source")

    def __init__(self, source: _Pooled | _Freelist | _PgFreelist, begin: str | None, commit: bool) -> None:
        self.source = source
        self.begin = begin
        self.commit = commit

    def __enter__(self) -> Tx:
        conn = self.conn = self.source.checkout()
        try:
            cur = conn.cursor()
            if self.begin:
                cur.execute(self.begin)
        except BaseException:
            _rollback(conn)
            self.source.checkin(conn)
            raise
        return Tx(cur)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        conn = self.conn
        try:
            if exc_type is None and self.commit:
                conn.commit()
            else:
                conn.rollback()
        except BaseException:
            _rollback(conn)
            raise
        finally:
            self.source.checkin(conn)


class GroupLost(sqlite3.OperationalError):
    """A group's transaction ended under it (SQLite rolls back on I/O errors or a full disk):
    nothing of the group was committed."""


class Group:
    """``with db.group():`` one SQLite transaction for the fast transactions of several calls.

    A server that has several small write calls ready at once runs them in one
    transaction and commits once: one fsync instead of one per call. Each
    ``fast_write`` inside becomes a savepoint on the group's connection, released
    when it succeeds and rolled back when it fails, so a failing call undoes its
    own writes and no one else's; ``fast_read`` reads on the same connection, so a
    call sees what it (and the calls before it) wrote. Nothing is durable, and no
    caller may be answered, until the block has left without an exception.

    Opened without waiting (unless ``wait``): another connection holding the
    write lock makes ``__enter__`` raise ``database is locked`` before anything ran. If the
    transaction is lost (:class:`GroupLost`) or the commit fails, it is rolled
    back and ``db.after_rollback`` hooks run (caches of ids written inside it).
    """

    __slots__ = ("conn", "db", "lost", "source")

    def __init__(self, db: Database, wait: bool = False) -> None:
        self.db = db
        self.lost = False
        if db._raw_no_wait is None:
            raise RuntimeError("group transactions need a SQLite file")
        self.source = db._raw if wait else db._raw_no_wait

    def __enter__(self) -> Self:
        source = self.source
        conn = self.conn = source.checkout()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            _rollback(conn)
            source.checkin(conn)
            raise
        self.db._local.group = self
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        db, conn = self.db, self.conn
        db._local.group = None
        committed = False
        try:
            if exc_type is None and not self.lost:
                if not conn.in_transaction:
                    raise GroupLost("the group's transaction was rolled back by SQLite; nothing was written")
                conn.commit()
                committed = True
        finally:
            if not committed:
                _rollback(conn)
                for hook in db.after_rollback:
                    hook()
            self.source.checkin(conn)
        if self.lost and exc_type is None:
            raise GroupLost("the group's transaction was rolled back by SQLite; nothing was written")


class _InGroup:
    """``fast_write``/``fast_read`` while a :class:`Group` is open on this thread."""

    __slots__ = ("cur", "group", "write")

    def __init__(self, group: Group, write: bool) -> None:
        self.group = group
        self.write = write

    def __enter__(self) -> Tx:
        group = self.group
        if group.lost or not group.conn.in_transaction:
            group.lost = True
            raise GroupLost("the group's transaction was rolled back by SQLite; nothing was written")
        cur = self.cur = group.conn.cursor()
        if self.write:
            cur.execute("SAVEPOINT fast")
        return Tx(cur)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if not self.write:
            return
        group, cur = self.group, self.cur
        if not group.conn.in_transaction:  # SQLite ended the whole transaction (I/O error, disk full)
            group.lost = True
            if exc_type is None:
                raise GroupLost("the group's transaction was rolled back by SQLite; nothing was written")
            return
        try:
            if exc_type is not None:
                cur.execute("ROLLBACK TO fast")
            cur.execute("RELEASE fast")
        except Exception:
            group.lost = True
            if exc_type is None:
                raise


def _rollback(conn: Any) -> None:
    try:
        conn.rollback()
    except Exception:  # noqa: BLE001, S110  (checkin closes a connection whose transaction is still open)
        pass


class Database:
    """A migrated database with read and write transactions.

    >>> db = Database("sqlite:///tmp/x.db")
    >>> with db.write() as conn: ...
    """

    def __init__(self, uri: str, *, sqlite_synchronous: str = "FULL") -> None:
        self.uri = uri
        self.engine = make_engine(uri, sqlite_synchronous=sqlite_synchronous)
        self.dialect = self.engine.dialect.name
        self.is_sqlite = self.dialect == "sqlite"
        if self.dialect == "postgresql":
            event.listen(self.engine, "do_connect", _pg_session_options)
        # Placeholder for hand-written hot-path statements run with exec_driver_sql.
        self.ph = "?" if self.is_sqlite else "%s"
        self._sql_cache: dict[str, str] = {}
        migrate(self.engine)
        database = self.engine.url.database or ""
        on_file = self.is_sqlite and database not in ("", ":memory:") and not self.engine.url.query
        self._raw: _Pooled | _Freelist | _PgFreelist
        if on_file:
            self._raw = _Freelist(self.engine)
        elif self.dialect == "postgresql":
            self._raw = _PgFreelist(self.engine)
        else:
            self._raw = _Pooled(self.engine)
        # For callers that must not wait on another writer's lock (see no_wait): SQLite answers BUSY at once.
        self._raw_no_wait = _Freelist(self.engine, max_idle=2, setup="PRAGMA busy_timeout=0") if on_file else None
        self._local = threading.local()
        # Called after a group transaction is rolled back as a whole (see Group): e.g. a cache of
        # ids inserted inside it forgets them, since SQLite may hand the same ids out again.
        self.after_rollback: list[Callable[[], None]] = []

    @contextmanager
    def no_wait(self) -> Iterator[bool]:
        """Within this block, this thread's fast transactions fail at once (SQLite ``database is locked``)
        instead of waiting when another connection holds the write lock. Yields False where that cannot
        be promised (PostgreSQL, in-memory SQLite): the caller should not rely on it there."""
        if self._raw_no_wait is None:
            yield False
            return
        self._local.no_wait = True
        try:
            yield True
        finally:
            self._local.no_wait = False

    def group(self, wait: bool = False) -> Group:
        """One transaction for the fast transactions this thread opens in the block (see
        :class:`Group`); SQLite files only (:attr:`can_group`). ``wait``: wait for another
        writer's lock (the busy timeout) instead of failing at once."""
        return Group(self, wait)

    @property
    def can_group(self) -> bool:
        return self._raw_no_wait is not None

    def _source(self) -> _Pooled | _Freelist | _PgFreelist:
        if self._raw_no_wait is not None and getattr(self._local, "no_wait", False):
            return self._raw_no_wait
        return self._raw

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed on exit, rolled back on error."""
        with self.engine.connect().execution_options(write=True) as conn:
            with conn.begin():
                yield conn

    def fast_write(self) -> _Transaction | _InGroup:
        """A write transaction on the bare DB-API connection, for the hot paths.

        No SQLAlchemy per statement: SQL is written once with ``?`` and passed
        through :meth:`sql`. Committed on exit, rolled back on error. On a SQLite
        file the connection comes from a free list, not the pool (no checkout
        events, no reset-on-return).
        """
        group = getattr(self._local, "group", None)
        if group is not None:
            return _InGroup(group, True)
        return _Transaction(self._source(), "BEGIN IMMEDIATE" if self.is_sqlite else None, True)

    def fast_read(self) -> _Transaction | _InGroup:
        """A read snapshot on the bare DB-API connection (inside a group: the group's connection)."""
        group = getattr(self._local, "group", None)
        if group is not None:
            return _InGroup(group, False)
        return _Transaction(self._source(), "BEGIN" if self.is_sqlite else None, False)

    def sql(self, text: str) -> str:
        """``text`` with ``?`` placeholders in this database's paramstyle (cached)."""
        found = self._sql_cache.get(text)
        if found is None:
            found = self._sql_cache[text] = text if self.is_sqlite else text.replace("?", "%s")
        return found

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot."""
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    def placeholders(self, n: int) -> str:
        return ", ".join([self.ph] * n)

    def insert_ignore(self, table: str, columns: tuple[str, ...]) -> str:
        """``INSERT`` that skips rows whose key already exists."""
        cols = ", ".join(columns)
        vals = self.placeholders(len(columns))
        if self.is_sqlite:
            return f"INSERT OR IGNORE INTO {table} ({cols}) VALUES ({vals})"
        return f"INSERT INTO {table} ({cols}) VALUES ({vals}) ON CONFLICT DO NOTHING"

    def upsert(
        self, table: str, columns: tuple[str, ...], key: tuple[str, ...], where: str | None = None
    ) -> str:
        """``INSERT ... ON CONFLICT (key) DO UPDATE`` of the non-key columns."""
        cols = ", ".join(columns)
        vals = self.placeholders(len(columns))
        sets = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
        sql = f"INSERT INTO {table} ({cols}) VALUES ({vals}) ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}"
        if where:
            sql += f" WHERE {where}"
        return sql

    def dispose(self) -> None:
        self._raw.close()
        if self._raw_no_wait is not None:
            self._raw_no_wait.close()
        self.engine.dispose()
