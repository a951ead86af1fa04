"""Metric points: history rows plus a latest value per (run, key), written in bulk.

History rows carry an interned key id (``metric_keys``); ``latest_metrics``
keeps the key text, which is what searches filter and order on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, and_, select

from ..entities import Metric
from . import schema as s
from .database import Database

_HISTORY_COLS = ("run_id", "key_id", "step", "timestamp", "value", "is_nan")
_LATEST_COLS = ("run_id", "key", "value", "is_nan", "timestamp", "step")
_NEWER = (
    "(excluded.step, excluded.timestamp, excluded.value)"
    " > (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)"
)


class MetricStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert_history = db.insert_ignore("metrics", _HISTORY_COLS)
        self._upsert_latest = db.upsert("latest_metrics", _LATEST_COLS, ("run_id", "key"), _NEWER)
        self._insert_key = db.insert_ignore("metric_keys", ("key",))
        # key -> id of committed keys only; ids are never reused, so the cache never lies.
        self._key_ids: dict[str, int] = {}

    def ensure_keys(self, keys: Iterable[str]) -> None:
        """Intern new metric keys in a transaction of their own (call before a write transaction)."""
        missing = {k for k in keys if k not in self._key_ids}
        if not missing:
            return
        k = s.metric_keys.c
        with self.db.read() as conn:
            found = conn.execute(select(k.key, k.id).where(k.key.in_(missing))).all()
        self._key_ids.update(dict(found))  # type: ignore[arg-type]
        missing -= {key for key, _ in found}
        if missing:
            with self.db.write() as conn:
                conn.exec_driver_sql(self._insert_key, [(key,) for key in missing])
                found = conn.execute(select(k.key, k.id).where(k.key.in_(missing))).all()
            self._key_ids.update(dict(found))  # type: ignore[arg-type]

    def key_id(self, conn: Connection, key: str) -> int | None:
        found = self._key_ids.get(key)
        if found is None:
            found = conn.execute(select(s.metric_keys.c.id).where(s.metric_keys.c.key == key)).scalar()
        return found

    def write(self, conn: Connection, run_pk: int, metrics: Sequence[Metric]) -> None:
        """Insert points (identical ones once) and move each key's latest value forward.

        Keys must have been interned with :meth:`ensure_keys`. NaN is stored as 0
        with ``is_nan`` set (SQL has no portable NaN). A batch is folded to one
        latest point per key before the upsert, so no row is updated twice in a
        statement.
        """
        if not metrics:
            return
        kid = self._key_ids
        rows = []
        append = rows.append
        best: dict[str, tuple[int, int, float, bool]] = {}
        for m in metrics:
            v = m.value
            nan = v != v
            if nan:
                v = 0.0
            key, step, ts = m.key, m.step, m.timestamp
            append((run_pk, kid[key], step, ts, v, nan))
            b = best.get(key)
            if b is None or step > b[0] or (step == b[0] and (ts > b[1] or (ts == b[1] and v > b[2]))):
                best[key] = (step, ts, v, nan)
        conn.exec_driver_sql(self._insert_history, rows)
        conn.exec_driver_sql(
            self._upsert_latest,
            [(run_pk, key, v, nan, ts, step) for key, (step, ts, v, nan) in best.items()],
        )

    def history(
        self, conn: Connection, run_pk: int, key: str, limit: int | None = None, offset: int = 0
    ) -> list[Metric]:
        key_id = self.key_id(conn, key)
        if key_id is None:
            return []
        m = s.metrics.c
        query = (
            select(m.step, m.timestamp, m.value, m.is_nan)
            .where(m.run_id == run_pk, m.key_id == key_id)
            .order_by(m.step, m.timestamp, m.value)
            .offset(offset)
        )
        if limit is not None:
            query = query.limit(limit)
        return [
            Metric(key, math.nan if nan else value, ts, step)
            for step, ts, value, nan in conn.execute(query)
        ]

    def history_in_steps(
        self, conn: Connection, run_pks: Sequence[int], key: str, start_step: int | None, end_step: int | None
    ) -> list[tuple[int, Metric]]:
        """All points of ``key`` for these runs with steps in [start, end], as (run_pk, metric)."""
        key_id = self.key_id(conn, key)
        if key_id is None:
            return []
        m = s.metrics.c
        conds = [m.run_id.in_(run_pks), m.key_id == key_id]
        if start_step is not None:
            conds.append(m.step >= start_step)
        if end_step is not None:
            conds.append(m.step <= end_step)
        query = (
            select(m.run_id, m.step, m.timestamp, m.value, m.is_nan)
            .where(and_(*conds))
            .order_by(m.run_id, m.step, m.timestamp, m.value)
        )
        return [
            (run_pk, Metric(key, math.nan if nan else value, ts, step))
            for run_pk, step, ts, value, nan in conn.execute(query)
        ]

    def latest(self, conn: Connection, run_pks: Sequence[int]) -> dict[int, list[Metric]]:
        lm = s.latest_metrics.c
        out: dict[int, list[Metric]] = {}
        query = select(lm.run_id, lm.key, lm.value, lm.is_nan, lm.timestamp, lm.step).where(
            lm.run_id.in_(run_pks)
        )
        for run_pk, key, value, nan, ts, step in conn.execute(query):
            out.setdefault(run_pk, []).append(Metric(key, math.nan if nan else value, ts, step))
        return out
