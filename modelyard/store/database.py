"""One database: its engine, its transactions and the SQL dialect details."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection

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
        # Placeholder for hand-written hot-path statements run with exec_driver_sql.
        self.ph = "?" if self.is_sqlite else "%s"
        self._sql_cache: dict[str, str] = {}
        migrate(self.engine)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed on exit, rolled back on error."""
        with self.engine.connect().execution_options(write=True) as conn:
            with conn.begin():
                yield conn

    @contextmanager
    def fast_write(self) -> Iterator[Tx]:
        """A write transaction on the bare DB-API connection, for the hot paths.

        No SQLAlchemy per statement: SQL is written once with ``?`` and passed
        through :meth:`sql`. Committed on exit, rolled back on error.
        """
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            if self.is_sqlite:
                cur.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(cur)
            except BaseException:
                raw.rollback()
                raise
            raw.commit()
        finally:
            raw.close()

    @contextmanager
    def fast_read(self) -> Iterator[Tx]:
        """A read snapshot on the bare DB-API connection."""
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            if self.is_sqlite:
                cur.execute("BEGIN")
            try:
                yield Tx(cur)
            finally:
                raw.rollback()
        finally:
            raw.close()

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
        self.engine.dispose()
