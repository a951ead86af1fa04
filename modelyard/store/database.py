"""One database: its engine, its transactions and the SQL dialect details."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

from .engine import make_engine
from .migrate import migrate


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
        migrate(self.engine)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed on exit, rolled back on error."""
        with self.engine.connect().execution_options(write=True) as conn:
            with conn.begin():
                yield conn

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
