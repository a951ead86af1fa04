"""Pipelines: runs of steps, cache entries, schedules and their ticks, triggers — in SQL.

Ticks and their leases live in ``pipelines_ticks.py``; the lease SQL, shared
with trigger events, in ``pipelines_leases.py``.

Rows come back as plain dicts keyed by column name; JSON columns stay text
(the service decodes them). ``record`` writes a whole batch of ``pipeline_steps``
rows with a few statements, and the runs store the steps' tracking runs, in the
one unit of work the service opens: that is what keeps a step's bookkeeping cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import pipelines_schema as ps
from .database import Database, Tx
from .pipelines_leases import Leases
from .pipelines_ticks import TicksStore

_RUN_COLS = tuple(c.name for c in ps.pipeline_runs.columns)
_STEP_COLS = tuple(c.name for c in ps.pipeline_steps.columns)
_CACHE_COLS = tuple(c.name for c in ps.pipeline_cache.columns)
_SCHEDULE_COLS = tuple(c.name for c in ps.pipeline_schedules.columns)
_TRIGGER_COLS = tuple(c.name for c in ps.pipeline_triggers.columns)
_EVENT_COLS = tuple(c.name for c in ps.pipeline_trigger_events.columns)
_EVENT_LEASES = Leases(ps.pipeline_trigger_events, order="id")
_IN_CHUNK = 500  # cache keys per IN (...) lookup: well under SQLite's and PostgreSQL's parameter limits


def _rows(cols: Sequence[str], rows: Sequence[Any]) -> list[dict[str, Any]]:
    return [dict(zip(cols, r)) for r in rows]


class PipelinesStore(TicksStore):
    def __init__(self, db: Database) -> None:
        self.db = db
        self._upsert_pipeline_run = db.upsert("pipeline_runs", _RUN_COLS, ("run_uuid",))
        self._insert_cache = db.insert_ignore("pipeline_cache", _CACHE_COLS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _STEP_COLS if c not in ("pipeline_run_uuid", "task_key"))
        self._step_conflict = f" ON CONFLICT (pipeline_run_uuid, task_key) DO UPDATE SET {updates}"

    # ---- the bulk write of a pipeline run's progress ----------------------------

    def record(
        self,
        pipeline_run: dict[str, Any] | None,
        steps: Sequence[dict[str, Any]],
        cache_entries: Sequence[dict[str, Any]],
        cache_hits: Sequence[str],
        now: int,
    ) -> None:
        """Upsert a pipeline run, its ``pipeline_steps`` rows and cache entries in one transaction.

        The steps' tracking runs are written by the runs store (``RunStore.record_many``),
        in the same unit of work (the service opens it).
        """
        q = self.db.sql
        with self.db.fast_write() as tx:
            if pipeline_run is not None:
                existing = tx.one(q("SELECT start_time FROM pipeline_runs WHERE run_uuid = ?"), (pipeline_run["run_uuid"],))
                row = dict(pipeline_run)
                if existing is not None and existing[0] is not None:
                    row["start_time"] = existing[0]
                tx.execute(self._upsert_pipeline_run, [row.get(c) for c in _RUN_COLS])
                tick = row.get("tick_id")
                if tick is not None:  # the run's first record ends the tick's lease; a second run cannot take it
                    tx.execute(q("UPDATE pipeline_ticks SET pipeline_run_uuid = ?, status = 'launched',"
                                 " lease_expires = NULL WHERE id = ? AND (pipeline_run_uuid IS NULL"
                                 " OR pipeline_run_uuid = ?)"), (row["run_uuid"], int(tick), row["run_uuid"]))
                event = row.get("event_id")
                if event is not None:  # likewise for a trigger event
                    tx.execute(
                        q("UPDATE pipeline_trigger_events SET pipeline_run_uuid = ?, status = 'launched',"
                          " lease_expires = NULL WHERE id = ? AND (pipeline_run_uuid IS NULL OR pipeline_run_uuid = ?)"),
                        (row["run_uuid"], int(event), row["run_uuid"]),
                    )
            if steps:
                rows = {(st["pipeline_run_uuid"], st["task_key"]): [st.get(c) for c in _STEP_COLS] for st in steps}
                self.db.insert_rows(tx, "pipeline_steps", _STEP_COLS, list(rows.values()), self._step_conflict)  # last wins
            for entry in cache_entries:
                tx.execute(self._insert_cache, [entry.get(c) for c in _CACHE_COLS])
            if cache_hits:
                tx.executemany(
                    q("UPDATE pipeline_cache SET hits = hits + 1, last_hit_time = ? WHERE cache_key = ?"),
                    [(now, key) for key in cache_hits],
                )

    # ---- pipeline runs and steps ------------------------------------------------

    def pipeline_run(self, run_id: str) -> dict[str, Any] | None:
        with self.db.fast_read() as tx:
            row = tx.one(self.db.sql(f"SELECT {', '.join(_RUN_COLS)} FROM pipeline_runs WHERE run_uuid = ?"), (run_id,))
        return dict(zip(_RUN_COLS, row)) if row else None

    def pipeline_run_of_step(self, step_run_id: str) -> str | None:
        with self.db.fast_read() as tx:
            row = tx.one(self.db.sql("SELECT pipeline_run_uuid FROM pipeline_steps WHERE run_uuid = ?"), (step_run_id,))
        return row[0] if row else None

    def steps(self, pipeline_run_id: str) -> list[dict[str, Any]]:
        with self.db.fast_read() as tx:
            rows = tx.all(
                self.db.sql(
                    f"SELECT {', '.join(_STEP_COLS)} FROM pipeline_steps WHERE pipeline_run_uuid = ? ORDER BY position"
                ),
                (pipeline_run_id,),
            )
        return _rows(_STEP_COLS, rows)

    def list_runs(self, pipeline: str | None, status: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
        where, args = [], []
        if pipeline:
            where.append("pipeline = ?")
            args.append(pipeline)
        if status:
            where.append("status = ?")
            args.append(status)
        sql = f"SELECT {', '.join(_RUN_COLS)} FROM pipeline_runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY start_time DESC, run_uuid LIMIT ? OFFSET ?"
        with self.db.fast_read() as tx:
            return _rows(_RUN_COLS, tx.all(self.db.sql(sql), [*args, limit, offset]))

    def model_versions_of_runs(self, run_ids: Sequence[str]) -> list[tuple[str, int, str]]:
        """(model name, version, run id) of every model version logged by one of ``run_ids``."""
        if not run_ids:
            return []
        sql = (
            "SELECT rm.name, mv.version, mv.run_id FROM model_versions mv JOIN registered_models rm"
            f" ON rm.id = mv.registered_model_id WHERE mv.run_id IN ({', '.join('?' * len(run_ids))})"
            " ORDER BY rm.name, mv.version"
        )
        with self.db.fast_read() as tx:
            return [(r[0], int(r[1]), r[2]) for r in tx.all(self.db.sql(sql), list(run_ids))]

    def model_versions_after(self, name: str, after: int) -> list[tuple[int, str | None]]:
        """(version, run id) of ``name``'s versions above ``after``, oldest first."""
        sql = (
            "SELECT mv.version, mv.run_id FROM model_versions mv JOIN registered_models rm ON rm.id = mv.registered_model_id"
            " WHERE rm.name = ? AND mv.version > ? ORDER BY mv.version"
        )
        with self.db.fast_read() as tx:
            return [(int(r[0]), r[1]) for r in tx.all(self.db.sql(sql), (name, after))]

    # ---- cache ------------------------------------------------------------------

    def cache_keys(self, pipeline: str) -> set[str]:
        with self.db.fast_read() as tx:
            return {r[0] for r in tx.all(self.db.sql("SELECT cache_key FROM pipeline_cache WHERE pipeline = ?"), (pipeline,))}

    def cache_entry(self, key: str) -> dict[str, Any] | None:
        with self.db.fast_read() as tx:
            row = tx.one(self.db.sql(f"SELECT {', '.join(_CACHE_COLS)} FROM pipeline_cache WHERE cache_key = ?"), (key,))
        return dict(zip(_CACHE_COLS, row)) if row else None

    def cache_entries(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """The entries of those of ``keys`` that are in the cache (one read per 500 keys)."""
        found: list[dict[str, Any]] = []
        with self.db.fast_read() as tx:
            for start in range(0, len(keys), _IN_CHUNK):
                chunk = list(keys[start : start + _IN_CHUNK])
                sql = (f"SELECT {', '.join(_CACHE_COLS)} FROM pipeline_cache"
                       f" WHERE cache_key IN ({self.db.placeholders(len(chunk))})")
                found.extend(_rows(_CACHE_COLS, tx.all(sql, chunk)))
        return found

    def _cache_where(self, pipeline: str | None, step: str | None) -> tuple[str, list[Any]]:
        where, args = [], []
        if pipeline:
            where.append("pipeline = ?")
            args.append(pipeline)
        if step:
            where.append("step = ?")
            args.append(step)
        return (" WHERE " + " AND ".join(where)) if where else "", args

    def cache_list(self, pipeline: str | None, step: str | None, limit: int) -> list[dict[str, Any]]:
        where, args = self._cache_where(pipeline, step)
        sql = f"SELECT {', '.join(_CACHE_COLS)} FROM pipeline_cache{where} ORDER BY created_time DESC LIMIT ?"
        with self.db.fast_read() as tx:
            return _rows(_CACHE_COLS, tx.all(self.db.sql(sql), [*args, limit]))

    def cache_clear(self, pipeline: str | None, step: str | None) -> int:
        where, args = self._cache_where(pipeline, step)
        with self.db.fast_write() as tx:
            return int(tx.execute(self.db.sql(f"DELETE FROM pipeline_cache{where}"), args).rowcount)

    def forget_runs(self, run_ids: Sequence[str]) -> dict[str, int]:
        """Delete the pipeline rows of purged runs: a pipeline run's row and its steps, and the cache
        entries naming them (which would hand out outputs whose files are gone). Rows per table."""
        counts = {"pipeline_steps": 0, "pipeline_runs": 0, "pipeline_cache": 0}
        with self.db.fast_write() as tx:
            for start in range(0, len(run_ids), _IN_CHUNK):
                chunk = list(run_ids[start : start + _IN_CHUNK])
                marks = self.db.placeholders(len(chunk))
                for table, column in (("pipeline_steps", "pipeline_run_uuid"), ("pipeline_runs", "run_uuid"),
                                      ("pipeline_cache", "run_uuid")):
                    counts[table] += int(tx.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", chunk).rowcount)
        return {k: v for k, v in counts.items() if v}

    # ---- schedules and ticks -------------------------------------------------------

    def insert_schedule(self, row: dict[str, Any]) -> None:
        cols = [c for c in _SCHEDULE_COLS if c != "id"]
        with self.db.fast_write() as tx:
            tx.execute(
                self.db.sql(f"INSERT INTO pipeline_schedules ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"),
                [row.get(c) for c in cols],
            )

    def schedules(self, name: str | None = None) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(_SCHEDULE_COLS)} FROM pipeline_schedules"
        args: list[Any] = []
        if name is not None:
            sql += " WHERE name = ?"
            args.append(name)
        with self.db.fast_read() as tx:
            return _rows(_SCHEDULE_COLS, tx.all(self.db.sql(sql + " ORDER BY name"), args))

    def update_schedule(self, name: str, **values: Any) -> int:
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.db.fast_write() as tx:
            cur = tx.execute(self.db.sql(f"UPDATE pipeline_schedules SET {sets} WHERE name = ?"), [*values.values(), name])
            return int(cur.rowcount)

    def advance_schedule(self, schedule_id: int, seen: int | None, next_tick: int) -> bool:
        """Move ``next_tick_time`` on if it still is ``seen`` (compare-and-set)."""
        q = self.db.sql
        with self.db.fast_write() as tx:
            if seen is None:
                cur = tx.execute(q("UPDATE pipeline_schedules SET next_tick_time = ? WHERE id = ? AND next_tick_time IS NULL"),
                                 (next_tick, schedule_id))
            else:
                cur = tx.execute(q("UPDATE pipeline_schedules SET next_tick_time = ? WHERE id = ? AND next_tick_time = ?"),
                                 (next_tick, schedule_id, seen))
            return bool(cur.rowcount)

    def delete_schedule(self, name: str) -> int:
        q = self.db.sql
        with self.db.fast_write() as tx:
            found = tx.one(q("SELECT id FROM pipeline_schedules WHERE name = ?"), (name,))
            if found is None:
                return 0
            tx.execute(q("DELETE FROM pipeline_ticks WHERE schedule_id = ?"), (found[0],))
            return int(tx.execute(q("DELETE FROM pipeline_schedules WHERE id = ?"), (found[0],)).rowcount)

    # ---- triggers and their events ---------------------------------------------------

    def insert_trigger(self, row: dict[str, Any]) -> None:
        cols = [c for c in _TRIGGER_COLS if c != "id"]
        with self.db.fast_write() as tx:
            tx.execute(
                self.db.sql(f"INSERT INTO pipeline_triggers ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"),
                [row.get(c) for c in cols],
            )

    def triggers(self, name: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        where, args = [], []
        if name is not None:
            where.append("name = ?")
            args.append(name)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        sql = f"SELECT {', '.join(_TRIGGER_COLS)} FROM pipeline_triggers"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self.db.fast_read() as tx:
            return _rows(_TRIGGER_COLS, tx.all(self.db.sql(sql + " ORDER BY name"), args))

    def update_trigger(self, name: str, **values: Any) -> int:
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.db.fast_write() as tx:
            return int(tx.execute(self.db.sql(f"UPDATE pipeline_triggers SET {sets} WHERE name = ?"),
                                  [*values.values(), name]).rowcount)

    def advance_cursor(self, trigger_id: int, seen: str | None, cursor: str) -> bool:
        q = self.db.sql
        with self.db.fast_write() as tx:
            if seen is None:
                cur = tx.execute(q("UPDATE pipeline_triggers SET cursor = ? WHERE id = ? AND cursor IS NULL"), (cursor, trigger_id))
            else:
                cur = tx.execute(q("UPDATE pipeline_triggers SET cursor = ? WHERE id = ? AND cursor = ?"),
                                 (cursor, trigger_id, seen))
            return bool(cur.rowcount)

    def delete_trigger(self, name: str) -> int:
        q = self.db.sql
        with self.db.fast_write() as tx:
            found = tx.one(q("SELECT id FROM pipeline_triggers WHERE name = ?"), (name,))
            if found is None:
                return 0
            tx.execute(q("DELETE FROM pipeline_trigger_events WHERE trigger_id = ?"), (found[0],))
            return int(tx.execute(q("DELETE FROM pipeline_triggers WHERE id = ?"), (found[0],)).rowcount)

    def insert_event(self, trigger_id: int, dedupe_key: str, payload: str, now: int) -> int | None:
        """The new event's id, or None when this (trigger, dedupe key) was already fired."""
        q = self.db.sql
        with self.db.fast_write() as tx:
            cur = tx.execute(
                self.db.insert_ignore("pipeline_trigger_events", ("trigger_id", "dedupe_key", "payload", "status", "created_time")),
                (trigger_id, dedupe_key, payload, "pending", now),
            )
            if cur.rowcount != 1:
                return None
            return int(tx.one(q("SELECT id FROM pipeline_trigger_events WHERE trigger_id = ? AND dedupe_key = ?"),
                              (trigger_id, dedupe_key))[0])

    def pending_events(self, limit: int) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(_EVENT_COLS)} FROM pipeline_trigger_events WHERE status = 'pending' ORDER BY id LIMIT ?"
        with self.db.fast_read() as tx:
            return _rows(_EVENT_COLS, tx.all(self.db.sql(sql), (limit,)))

    def claim_event(self, event_id: int, now: int, owner: str | None = None, lease_until: int | None = None) -> bool:
        """Claim a pending event; with ``owner`` and ``lease_until`` the claim is leased, without it is held for good."""
        with self.db.fast_write() as tx:
            cur = tx.execute(self.db.sql("UPDATE pipeline_trigger_events SET status = 'claimed', claimed_time = ?,"
                                         " lease_owner = ?, lease_expires = ? WHERE id = ? AND status = 'pending'"),
                             (now, owner, lease_until if owner else None, event_id))
            return bool(cur.rowcount == 1)

    def renew_events(self, owner: str, event_ids: Sequence[int], lease_until: int) -> list[int]:
        """Extend ``owner``'s leases on these events; the ids it still holds (claimed, not taken over)."""
        return _EVENT_LEASES.renew(self.db, owner, event_ids, lease_until)

    def expired_events(self, now: int, limit: int) -> list[dict[str, Any]]:
        """Events still ``claimed`` whose lease ran out before ``now``, oldest first."""
        return _EVENT_LEASES.expired(self.db, now, limit)

    def take_over_event(self, event_id: int, owner: str, now: int, lease_until: int) -> bool:
        """Take an expired, unfinished claim for ``owner`` (compare-and-set: one taker wins)."""
        return _EVENT_LEASES.take_over(self.db, event_id, owner, now, lease_until)

    def finish_event(self, event_id: int, owner: str, status: str) -> bool:
        """End ``owner``'s claim with ``status`` if it still holds it."""
        return _EVENT_LEASES.finish(self.db, event_id, owner, status)

    def set_event(self, event_id: int, status: str) -> None:
        """Set an event's status; a status other than ``claimed`` ends its lease."""
        lease = "" if status == "claimed" else ", lease_expires = NULL"
        with self.db.fast_write() as tx:
            tx.execute(self.db.sql(f"UPDATE pipeline_trigger_events SET status = ?{lease} WHERE id = ?"),
                       (status, event_id))

    def events(self, trigger_id: int, limit: int) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(_EVENT_COLS)} FROM pipeline_trigger_events WHERE trigger_id = ? ORDER BY id DESC LIMIT ?"
        with self.db.fast_read() as tx:
            return _rows(_EVENT_COLS, tx.all(self.db.sql(sql), (trigger_id, limit)))


__all__ = ["PipelinesStore", "Tx"]
