"""One transaction and what joins it: the types the database and its writer share.

A :class:`UnitOfWork` is one transaction on one connection; :data:`CURRENT` is the one open in
this context (thread or asyncio task); :class:`Joined` is a read or write inside it (a savepoint
if writing); :class:`Tx` the DB-API cursor the hot paths' hand-written SQL runs on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection

if TYPE_CHECKING:
    from .database import Database


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
        return cast("list[Any]", self.cur.fetchall())


class UnitLost(sqlite3.OperationalError):
    """A unit of work's transaction ended under it (SQLite rolls back on I/O errors or a full
    disk): nothing of the unit was committed."""




# The unit of work open in this context (thread or asyncio task), whichever Database it is on.
CURRENT: ContextVar[UnitOfWork | None] = ContextVar("modelyard_unit_of_work", default=None)


class UnitOfWork:
    """One transaction on one connection, shared by everything opened while it is open.

    SQLAlchemy Core (:meth:`core`, begun on first use) and hand-written SQL
    (:attr:`driver`, the DB-API connection) run on the same connection; every write
    that joins is a savepoint; reads see what the unit wrote. Opened by
    :meth:`Database.unit_of_work` (and by every write outside one): on a SQLite file
    it is the :class:`~.writer.Writer`'s transaction, which several callers' blocks
    may share; elsewhere a transaction on a connection of the engine's pool.
    """

    __slots__ = ("bare", "conn", "db", "driver", "lost")

    def __init__(self, db: Database, conn: Connection | None, driver: Any) -> None:
        self.db = db
        self.conn = conn
        self.driver = driver
        self.lost = False  # SQLite ended the transaction under it: nothing of it will commit
        # One caller's block is all of it, and it fails whole: writes joining it take no savepoint,
        # and one that fails loses the unit (nothing of it commits) instead of undoing only its own.
        self.bare = False

    def core(self) -> Connection:
        """The SQLAlchemy connection, in a transaction (begun on the one already open)."""
        conn = self.conn
        if conn is None:
            raise RuntimeError("this transaction has no SQLAlchemy connection")
        if not conn.in_transaction():
            conn.begin()  # SQLAlchemy's side of it (engine.py adds no second BEGIN)
        return conn

    def commit(self) -> None:
        if self.lost or (self.db.is_sqlite and not self.driver.in_transaction):
            self.lost = True
            raise UnitLost("the unit of work's transaction was rolled back by SQLite; nothing was written")
        if self.conn is not None and self.conn.in_transaction():
            self.conn.commit()
        else:
            self.driver.commit()

    def rollback(self) -> None:
        _rollback(self.conn if self.conn is not None and self.conn.in_transaction() else self.driver)

    def check(self) -> None:
        """Raise :class:`UnitLost` if SQLite ended the transaction under this unit."""
        if self.lost or (self.db.is_sqlite and not self.driver.in_transaction):
            self.lost = True
            raise UnitLost("the unit of work's transaction was rolled back by SQLite; nothing was written")

    def savepoint_end(self, cur: Any, failed: bool, name: str = "joined") -> None:
        """Release the savepoint ``name``, or roll back to it if the write ``failed``."""
        if self.db.is_sqlite and not self.driver.in_transaction:  # SQLite ended the whole transaction
            self.lost = True
            if not failed:
                raise UnitLost("the unit of work's transaction was rolled back by SQLite; nothing was written")
            return
        try:
            if failed:
                cur.execute(f"ROLLBACK TO SAVEPOINT {name}")
            cur.execute(f"RELEASE SAVEPOINT {name}")
        except Exception:
            self.lost = True
            if not failed:
                raise


class Joined:
    """A read or write inside an open unit of work: its connection, a savepoint if writing."""

    __slots__ = ("bare", "cur", "uow", "write")

    def __init__(self, uow: UnitOfWork, write: bool) -> None:
        self.uow = uow
        self.write = write

    def __enter__(self) -> Tx:
        uow = self.uow
        uow.check()
        cur = self.cur = uow.driver.cursor()
        self.bare = uow.bare
        if self.write and not self.bare:
            cur.execute("SAVEPOINT joined")
        return Tx(cur)

    def __exit__(self, exc_type: type[BaseException] | None, exc_val: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self.write:
            return
        if self.bare:  # no savepoint to undo it by: the whole unit is lost, even if the error is caught
            if exc_type is not None:
                self.uow.lost = True
            return
        self.uow.savepoint_end(self.cur, exc_type is not None)


def _rollback(conn: Any) -> None:
    try:
        conn.rollback()
    except Exception:  # noqa: BLE001, S110  (the pool closes a connection whose transaction is still open)
        pass
