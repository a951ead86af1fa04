"""One database: its engine and connections, its units of work and the SQL dialect details.

Writes: a *unit of work* (:meth:`Database.unit_of_work`) is one transaction on
one connection. SQLAlchemy Core statements (:meth:`Database.write`,
:meth:`Database.read`) and the hand-written DB-API SQL of the hot paths
(:meth:`Database.fast_write`, :meth:`Database.fast_read`) opened while it is
open, on this thread or asyncio task, join it instead of taking a connection of
their own. Each write that joins is a savepoint: one that fails undoes its own
writes only, and the caller decides whether the whole unit goes (an exception out
of the block rolls everything back). Outside a unit of work each write is a unit
of its own. On a SQLite file every unit runs on the database's one
:class:`~.writer.Writer` (one connection; blocks that arrive together share a
commit); on PostgreSQL (and in-memory SQLite) on a connection of the engine's
pool, except the hot paths' lone ``fast_write`` transactions, which take a bare
connection from one :class:`FreeList` (the pool's bookkeeping would cost a third
of a ``log_metric``). Reads outside a unit take a free-list or pool connection.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, event, exc

from .engine import make_engine
from .migrate import migrate
from .unit import CURRENT, Joined, Tx, UnitLost, UnitOfWork, _rollback
from .writer import Member, Writer

__all__ = ["CURRENT", "Database", "FreeList", "Joined", "Tx", "UnitLost", "UnitOfWork"]


class _PoolUnit:
    """A unit of work on a connection of the engine's pool (PostgreSQL, in-memory SQLite)."""

    __slots__ = ("conn", "db", "token", "uow")

    def __init__(self, db: Database) -> None:
        self.db = db

    def __enter__(self) -> UnitOfWork:
        db = self.db
        conn = self.conn = db.engine.connect()
        try:
            driver: Any = conn.connection.driver_connection
            if db.is_sqlite:
                driver.execute("BEGIN IMMEDIATE")
            self.uow = UnitOfWork(db, conn, driver)
            self.uow.core()
        except BaseException:
            conn.close()
            raise
        self.token = CURRENT.set(self.uow)
        return self.uow

    def __exit__(self, exc_type: type[BaseException] | None, exc_val: BaseException | None,
                 tb: TracebackType | None) -> None:
        CURRENT.reset(self.token)
        uow = self.uow
        committed = False
        try:
            if exc_type is None:
                uow.commit()
                committed = True
        finally:
            if not committed:
                uow.rollback()
                for hook in self.db.after_rollback:
                    hook()
            self.conn.close()  # back to the pool (which rolls back anything left open)


class FreeList:
    """Bare DB-API connections for the hot paths' transactions, reused without a pool's bookkeeping.

    SQLAlchemy's pool costs 10-15 us of CPU per checkout and return (its connection
    proxy, events and reset): a third of a ``log_metric`` on SQLite. Here a
    transaction pops an idle connection and appends it back when done;
    ``list.pop``/``append`` are atomic, so any number of threads share the list
    without a lock, and each connection is used by one thread at a time. Each
    connection is opened by the engine (so it gets exactly the session setup of
    ``engine.py`` and ``_pg_session_options``) and detached from its pool.

    ``alive(conn, idle_since)`` vets an idle connection before reuse (PostgreSQL:
    :func:`_pg_alive`). A connection left in a transaction is never reused. After
    ``os.fork`` the child never uses nor closes the parent's connections: the list
    notices the new process id and starts empty (psycopg and sqlite3 objects dropped
    in a child leave the parent's sessions and locks alone).
    """

    __slots__ = ("alive", "closed", "engine", "idle", "max_idle", "pid", "reusable")

    def __init__(self, engine: Engine, max_idle: int, alive: Callable[[Any, float], bool] | None,
                 reusable: Callable[[Any], bool]) -> None:
        self.engine = engine
        self.idle: list[tuple[Any, float]] = []
        self.max_idle = max_idle
        self.alive = alive
        self.reusable = reusable
        self.closed = False
        self.pid = os.getpid()

    def checkout(self) -> Any:
        if self.pid != os.getpid():  # a forked child: the parent's connections are not ours
            self.idle, self.pid = [], os.getpid()
        while True:
            try:
                conn, since = self.idle.pop()
            except IndexError:
                fairy = self.engine.raw_connection()
                fairy.detach()
                return fairy.dbapi_connection
            if self.alive is None or self.alive(conn, since):
                return conn
            _close_quietly(conn)

    def checkin(self, conn: Any) -> None:
        if self.closed or self.pid != os.getpid() or len(self.idle) >= self.max_idle or not self.reusable(conn):
            _close_quietly(conn)
        else:
            self.idle.append((conn, time.monotonic()))

    def close(self) -> None:
        self.closed = True
        while self.idle:
            _close_quietly(self.idle.pop()[0])


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001, S110  (already broken: nothing left to close)
        pass


def _sqlite_reusable(conn: Any) -> bool:
    return not conn.in_transaction  # a failed rollback leaves a transaction open: never reuse that


def _pg_reusable(conn: Any) -> bool:
    return not (conn.closed or conn.broken) and conn.info.transaction_status == 0  # 0 = IDLE


class _Transaction:
    """``with db.fast_write() as tx`` outside a unit of work, off the writer: a free-list connection, one
    transaction (PostgreSQL; and reads everywhere)."""

    __slots__ = ("begin", "commit", "conn", "free")

    def __init__(self, free: FreeList, begin: str | None, commit: bool) -> None:
        self.free = free
        self.begin = begin
        self.commit = commit

    def __enter__(self) -> Tx:
        conn = self.conn = self.free.checkout()
        try:
            cur = conn.cursor()
            if self.begin:
                cur.execute(self.begin)
        except BaseException:
            _rollback(conn)
            self.free.checkin(conn)
            raise
        return Tx(cur)

    def __exit__(self, exc_type: type[BaseException] | None, exc_val: BaseException | None,
                 tb: TracebackType | None) -> None:
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
            self.free.checkin(conn)


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


_MAX_VARIABLES = 990  # values per multi-row INSERT: under SQLite's oldest limit (999)

# An idle PostgreSQL connection older than this is pinged before use (see _pg_alive).
PG_PING_AFTER_S = 30.0


def _pg_alive(conn: Any, idle_since: float) -> bool:
    """Whether an idle psycopg connection can be used, mostly without asking the server.

    SQLAlchemy's ``pool_pre_ping`` sends a ``SELECT 1`` before every checkout: on a
    small write that is one round trip in five. A backend that ended (server
    restart, ``pg_terminate_backend``, idle timeout) leaves its socket readable
    (the FATAL message, or EOF), while a healthy idle one has nothing to read. Only
    a connection idle for longer than :data:`PG_PING_AFTER_S`, whose peer may have
    vanished without a word, is pinged.
    """
    if conn.closed or conn.broken or conn.info.transaction_status != 0:  # 0 = IDLE
        return False
    try:
        if select.select([conn.fileno()], [], [], 0)[0]:
            return False
        if time.monotonic() - idle_since > PG_PING_AFTER_S:
            conn.execute("SELECT 1")
            conn.rollback()
    except Exception:  # noqa: BLE001  (any failure here means: do not use this one)
        return False
    return True


def _watch_pool(engine: Engine, postgres: bool) -> None:
    """Pool events: a connection is only used by the process that opened it (SQLAlchemy's recipe
    for ``os.fork``: a child drops the parent's, never closing them), and on PostgreSQL an idle
    one whose backend is gone is replaced before anyone sees it."""

    @event.listens_for(engine, "connect")
    def _on_connect(_dbapi_conn: Any, record: Any) -> None:
        record.info["pid"] = os.getpid()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        pid = os.getpid()
        if record.info.get("pid", pid) != pid:
            # Forked: neither use nor close it (closing would end the parent's session).
            record.dbapi_connection = proxy.dbapi_connection = None
            raise exc.DisconnectionError(f"connection of process {record.info['pid']} checked out in {pid}")
        if postgres and not _pg_alive(dbapi_conn, record.info.get("idle_since", time.monotonic())):
            raise exc.DisconnectionError("the PostgreSQL backend of an idle connection is gone")

    if postgres:
        @event.listens_for(engine, "checkin")
        def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
            if record is not None:
                record.info["idle_since"] = time.monotonic()


class Database:
    """A migrated database: one pool, units of work, read and write transactions.

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
        _watch_pool(self.engine, self.dialect == "postgresql")
        # Placeholder for hand-written hot-path statements.
        self.ph = "?" if self.is_sqlite else "%s"
        self._sql_cache: dict[str, str] = {}
        migrate(self.engine)
        database = self.engine.url.database or ""
        self._on_file = self.is_sqlite and database not in ("", ":memory:") and not self.engine.url.query
        self._begin = "BEGIN IMMEDIATE" if self.is_sqlite else None
        # The hot paths' connections (see FreeList); units of work and SQLAlchemy Core use the engine's pool.
        if self.is_sqlite:
            self._free = FreeList(self.engine, 8, None, _sqlite_reusable)
        else:
            self._free = FreeList(self.engine, 10, _pg_alive, _pg_reusable)
        # Called after a unit of work is rolled back as a whole: e.g. a cache of ids inserted
        # inside it forgets them, since SQLite may hand the same ids out again.
        self.after_rollback: list[Callable[[], None]] = []
        # Called with the connection's ``info`` after the writer commits a transaction (its connection is
        # not the pool's, so the pool's checkin event, which tells this for the others, never fires for it).
        self.after_commit: list[Callable[[dict[Any, Any]], None]] = []
        # Every write on a SQLite file goes through its one writer (see writer.py).
        self.writer = Writer(self) if self._on_file else None

    # ---- units of work ------------------------------------------------------------

    def current(self) -> UnitOfWork | None:
        """The unit of work open on this database in this context, if any."""
        uow = CURRENT.get()
        return uow if uow is not None and uow.db is self else None

    @contextmanager
    def unit_of_work(self, wait: bool = True, bare: bool = False) -> Iterator[UnitOfWork]:
        """One transaction for every read and write opened in the block (see :class:`UnitOfWork`);
        inside another, it joins it as a savepoint. Committed when the block leaves without an
        exception, else rolled back (its writes only, if it shares the writer's transaction with
        other callers' blocks).

        On a SQLite file the block runs on the :class:`~.writer.Writer`; ``wait=False``: fail at
        once (an error that :func:`is_busy` recognises) rather than wait for the writer or
        another process's write lock. ``bare`` (a SQLite file, a unit of its own): an error anywhere
        in the block fails all of it, so its writes take no savepoints (see :class:`~.writer.Member`)."""
        outer = self.current()
        if outer is not None:
            with Joined(outer, True):
                yield outer
            return
        if self.writer is not None:
            with self.writer.member(wait, bare) as uow:
                yield uow
            return
        with _PoolUnit(self) as uow:
            yield uow

    # ---- transactions -------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction for SQLAlchemy Core: committed on exit, rolled back on error
        (inside a unit of work: a savepoint on its connection; on a SQLite file: on the writer)."""
        uow = self.current()
        if uow is not None:
            with Joined(uow, True):
                yield uow.core()
            return
        if self.writer is not None:
            with self.writer.member() as uow:
                yield uow.core()
            return
        with self.engine.connect().execution_options(write=True) as conn:
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot for SQLAlchemy Core (inside a unit of work: its connection)."""
        uow = self.current()
        if uow is not None:
            uow.check()
            yield uow.core()
            return
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    def fast_write(self) -> _Transaction | Joined | Member:
        """A write transaction on the bare DB-API connection, for the hot paths.

        No SQLAlchemy per statement: SQL is written once with ``?`` and passed
        through :meth:`sql`. Committed on exit, rolled back on error (inside a unit of
        work: a savepoint on its connection; on a SQLite file: on the writer).
        """
        uow = CURRENT.get()
        if uow is not None and uow.db is self:
            return Joined(uow, True)
        if self.writer is not None:
            return Member(self.writer, True, True)
        return _Transaction(self._free, self._begin, True)

    def fast_read(self) -> _Transaction | Joined:
        """A read snapshot on the bare DB-API connection (inside a unit of work: its connection)."""
        uow = CURRENT.get()
        if uow is not None and uow.db is self:
            return Joined(uow, False)
        return _Transaction(self._free, "BEGIN" if self.is_sqlite else None, False)

    # ---- SQL text -----------------------------------------------------------------

    def sql(self, text: str) -> str:
        """``text`` with ``?`` placeholders in this database's paramstyle (cached)."""
        found = self._sql_cache.get(text)
        if found is None:
            found = self._sql_cache[text] = text if self.is_sqlite else text.replace("?", "%s")
        return found

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

    def insert_rows(
        self, tx: Tx, table: str, cols: Sequence[str], rows: Sequence[Sequence[Any]], conflict: str, literal: str = ""
    ) -> list[Any]:
        """``INSERT INTO table VALUES (...), (...) conflict``: many rows per statement (no two with the same key).

        ``literal`` is appended to each row's values (a constant column, named last in
        ``cols``); the rows a ``RETURNING`` in ``conflict`` gives back are returned.
        """
        given = len(cols) - (1 if literal else 0)
        per = max(1, _MAX_VARIABLES // given)
        one = "(" + self.placeholders(given) + literal + ")"
        head = f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
        out: list[Any] = []
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            cur = tx.execute(head + ", ".join([one] * len(chunk)) + conflict, [v for row in chunk for v in row])
            if "RETURNING" in conflict:
                out.extend(cur.fetchall())
        return out

    def dispose(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self._free.close()
        self.engine.dispose()
