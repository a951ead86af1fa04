"""Schedule ticks in SQL: each (schedule, tick time) claimed once, under a lease that can be taken over.

A tick row is inserted by the caller that wins it (the unique (schedule, tick)
pair makes that exactly one). A server's scheduler claims with a lease
(``lease_owner``, ``lease_expires``) and renews it while the run it launched
starts; the run's first record marks the tick ``launched`` and ends the lease.
A claim whose lease ran out while still ``claimed`` (its server died) may be
taken over by another scheduler with a compare-and-set, so one scheduler at a
time holds it. Claims without a lease (backfills, rows from before leases)
are never taken over. The lease SQL is shared with trigger events (``pipelines_leases.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import pipelines_schema as ps
from .database import Database
from .pipelines_leases import CLAIMED, Leases

_TICK_COLS = tuple(c.name for c in ps.pipeline_ticks.columns)
_LEASES = Leases(ps.pipeline_ticks, order="tick_time", only="kind = 'schedule'")  # backfills are never taken over


class TicksStore:
    """The tick methods of :class:`~modelyard.store.pipelines.PipelinesStore`."""

    db: Database

    def claim_tick(self, schedule_id: int, tick_time: int, kind: str, now: int, owner: str | None = None,
                   lease_until: int | None = None) -> int | None:
        """Insert the (schedule, tick) row; its id if this caller won it, else None.

        With ``owner`` and ``lease_until`` the claim is leased; without, it is held for good.
        """
        q = self.db.sql
        with self.db.fast_write() as tx:
            cur = tx.execute(
                self.db.insert_ignore("pipeline_ticks", ("schedule_id", "tick_time", "kind", "status", "claimed_time",
                                                         "lease_owner", "lease_expires")),
                (schedule_id, tick_time, kind, CLAIMED, now, owner, lease_until if owner else None),
            )
            if cur.rowcount != 1:
                return None
            return int(tx.one(q("SELECT id FROM pipeline_ticks WHERE schedule_id = ? AND tick_time = ?"),
                              (schedule_id, tick_time))[0])

    def renew_ticks(self, owner: str, tick_ids: Sequence[int], lease_until: int) -> list[int]:
        """Extend ``owner``'s leases on these ticks; the ids it still holds (claimed, not taken over)."""
        return _LEASES.renew(self.db, owner, tick_ids, lease_until)

    def expired_ticks(self, now: int, limit: int) -> list[dict[str, Any]]:
        """Scheduled ticks still ``claimed`` whose lease ran out before ``now``, oldest first."""
        return _LEASES.expired(self.db, now, limit)

    def take_over_tick(self, tick_id: int, owner: str, now: int, lease_until: int) -> bool:
        """Take an expired, unfinished claim for ``owner`` (compare-and-set: one taker wins)."""
        return _LEASES.take_over(self.db, tick_id, owner, now, lease_until)

    def finish_tick(self, tick_id: int, owner: str, status: str) -> bool:
        """End ``owner``'s claim with ``status`` if it still holds it."""
        return _LEASES.finish(self.db, tick_id, owner, status)

    def has_later_tick(self, schedule_id: int, tick_time: int) -> bool:
        with self.db.fast_read() as tx:
            return tx.one(self.db.sql("SELECT 1 FROM pipeline_ticks WHERE schedule_id = ? AND tick_time > ? LIMIT 1"),
                          (schedule_id, tick_time)) is not None

    def set_tick(self, tick_id: int, status: str, pipeline_run_id: str | None = None) -> None:
        """Set a tick's status (and run); a status other than ``claimed`` ends its lease."""
        lease = "" if status == CLAIMED else ", lease_expires = NULL"
        with self.db.fast_write() as tx:
            tx.execute(self.db.sql(f"UPDATE pipeline_ticks SET status = ?, pipeline_run_uuid = COALESCE(?, pipeline_run_uuid)"
                                   f"{lease} WHERE id = ?"), (status, pipeline_run_id, tick_id))

    def ticks(self, schedule_id: int, limit: int) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(_TICK_COLS)} FROM pipeline_ticks WHERE schedule_id = ? ORDER BY tick_time DESC LIMIT ?"
        with self.db.fast_read() as tx:
            return [dict(zip(_TICK_COLS, r)) for r in tx.all(self.db.sql(sql), (schedule_id, limit))]
