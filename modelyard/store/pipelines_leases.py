"""Leased claims in SQL: a row claimed by one scheduler until a time, renewed, taken over once it runs out.

Schedule ticks (``pipeline_ticks``) and trigger events (``pipeline_trigger_events``)
are claimed the same way: the row's ``status`` is ``claimed`` and its
``lease_owner`` / ``lease_expires`` say which scheduler holds it and until when.
The holder renews the lease while the run it launched starts; the run's first
record ends it (status ``launched``, ``lease_expires`` NULL). A claim whose lease
ran out while still ``claimed`` (its server died) may be taken over by another
scheduler with a compare-and-set, so one scheduler at a time holds it. A claim
without a lease (``lease_expires`` NULL) is never taken over.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table

from .database import Database

CLAIMED = "claimed"


class Leases:
    """The lease SQL of one table with ``id``, ``status``, ``claimed_time``, ``lease_owner`` and ``lease_expires``.

    ``only`` narrows which expired rows may be taken over (an SQL condition);
    ``order`` is the column expired rows come back in, oldest first.
    """

    def __init__(self, table: Table, *, order: str, only: str = "") -> None:
        self.table = table.name
        self.cols = tuple(c.name for c in table.columns)
        self._expired = (f"SELECT {', '.join(self.cols)} FROM {self.table} WHERE status = ? AND lease_expires < ?"
                         f"{f' AND {only}' if only else ''} ORDER BY {order} LIMIT ?")

    def renew(self, db: Database, owner: str, ids: Sequence[int], lease_until: int) -> list[int]:
        """Extend ``owner``'s leases on these rows; the ids it still holds (claimed, not taken over)."""
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        where = f"WHERE lease_owner = ? AND status = ? AND id IN ({marks})"
        with db.fast_write() as tx:
            tx.execute(db.sql(f"UPDATE {self.table} SET lease_expires = ? {where}"), (lease_until, owner, CLAIMED, *ids))
            rows = tx.all(db.sql(f"SELECT id FROM {self.table} {where}"), (owner, CLAIMED, *ids))
        return sorted(int(r[0]) for r in rows)

    def expired(self, db: Database, now: int, limit: int) -> list[dict[str, Any]]:
        """Rows still ``claimed`` whose lease ran out before ``now``, oldest first."""
        with db.fast_read() as tx:
            return [dict(zip(self.cols, r)) for r in tx.all(db.sql(self._expired), (CLAIMED, now, limit))]

    def take_over(self, db: Database, row_id: int, owner: str, now: int, lease_until: int) -> bool:
        """Take an expired, unfinished claim for ``owner`` (compare-and-set: one taker wins)."""
        with db.fast_write() as tx:
            cur = tx.execute(
                db.sql(f"UPDATE {self.table} SET lease_owner = ?, lease_expires = ?, claimed_time = ?"
                       " WHERE id = ? AND status = ? AND lease_expires < ?"),
                (owner, lease_until, now, row_id, CLAIMED, now),
            )
            return bool(cur.rowcount == 1)

    def finish(self, db: Database, row_id: int, owner: str, status: str) -> bool:
        """End ``owner``'s claim with ``status`` if it still holds it."""
        with db.fast_write() as tx:
            cur = tx.execute(
                db.sql(f"UPDATE {self.table} SET status = ?, lease_expires = NULL"
                       " WHERE id = ? AND lease_owner = ? AND status = ?"),
                (status, row_id, owner, CLAIMED),
            )
            return bool(cur.rowcount == 1)
