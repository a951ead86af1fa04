"""Metric points: history rows plus a latest value per (run, key), written in bulk."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, and_, select

from ..entities import Metric
from . import schema as s
from .database import Database

_HISTORY_COLS = ("run_id", "key", "step", "timestamp", "value", "is_nan")
_LATEST_COLS = ("run_id", "key", "value", "is_nan", "timestamp", "step")
_NEWER = (
    "(excluded.step, excluded.timestamp, excluded.value)"
    " > (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)"
)


def stored_value(value: float) -> tuple[float, bool]:
    """NaN is stored as 0 with ``is_nan`` set (SQL has no portable NaN)."""
    if math.isnan(value):
        return 0.0, True
    return value, False


class MetricStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert_history = db.insert_ignore("metrics", _HISTORY_COLS)
        self._upsert_latest = db.upsert("latest_metrics", _LATEST_COLS, ("run_id", "key"), _NEWER)

    def write(self, conn: Connection, run_pk: int, metrics: Iterable[Metric]) -> None:
        """Insert points (identical ones once) and move each key's latest value forward.

        A batch is folded to one latest point per key before the upsert, so a
        key seen twice never updates one row twice in a statement.
        """
        rows = []
        latest: dict[str, tuple[int, int, float, bool]] = {}
        for m in metrics:
            value, is_nan = stored_value(m.value)
            rows.append((run_pk, m.key, m.step, m.timestamp, value, is_nan))
            candidate = (m.step, m.timestamp, value, is_nan)
            seen = latest.get(m.key)
            if seen is None or candidate[:3] > seen[:3]:
                latest[m.key] = candidate
        if not rows:
            return
        conn.exec_driver_sql(self._insert_history, rows)
        conn.exec_driver_sql(
            self._upsert_latest,
            [(run_pk, key, v, nan, ts, step) for key, (step, ts, v, nan) in latest.items()],
        )

    def history(
        self, conn: Connection, run_pk: int, key: str, limit: int | None = None, offset: int = 0
    ) -> list[Metric]:
        m = s.metrics.c
        query = (
            select(m.step, m.timestamp, m.value, m.is_nan)
            .where(m.run_id == run_pk, m.key == key)
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
        m = s.metrics.c
        conds = [m.run_id.in_(run_pks), m.key == key]
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

    def steps(self, conn: Connection, run_pks: Sequence[int], key: str) -> list[int]:
        m = s.metrics.c
        query = select(m.step).where(m.run_id.in_(run_pks), m.key == key).distinct().order_by(m.step)
        return [row[0] for row in conn.execute(query)]

    def latest(self, conn: Connection, run_pks: Sequence[int]) -> dict[int, list[Metric]]:
        lm = s.latest_metrics.c
        out: dict[int, list[Metric]] = {}
        query = select(lm.run_id, lm.key, lm.value, lm.is_nan, lm.timestamp, lm.step).where(
            lm.run_id.in_(run_pks)
        )
        for run_pk, key, value, nan, ts, step in conn.execute(query):
            out.setdefault(run_pk, []).append(Metric(key, math.nan if nan else value, ts, step))
        return out
