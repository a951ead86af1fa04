"""Metric points: history rows plus a latest value per (run, key), written in bulk.

History rows carry an interned key id (``metric_keys``); ``latest_metrics``
keeps the key text, which is what searches filter and order on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain, islice, repeat
from typing import Any

from ..entities import LifecycleStage, Metric
from ..entities.metric_columns import MetricColumns, Series
from .database import Database, Tx

_HISTORY_COLS = ("run_id", "key_id", "step", "timestamp", "value", "is_nan")
_HISTORY_TYPES = ("int4", "int4", "int8", "int8", "float8", "bool")  # PostgreSQL's, for binary COPY
_LATEST_COLS = ("run_id", "key", "value", "is_nan", "timestamp", "step")
# History rows per INSERT statement: 250 rows (1,500 parameters, far below SQLite's and
# PostgreSQL's limits) take about a third less SQLite CPU than one statement per row.
_ROWS_PER_INSERT = 250
# On PostgreSQL, batches from this many rows go in by COPY (see pg_copy): about a fifth less
# database CPU and a tenth of the client CPU of the multi-row INSERTs at 1,000 rows.
_COPY_MIN_ROWS = 250
_NEWER = (
    "(excluded.step, excluded.timestamp, excluded.value)"
    " > (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)"
)


class MetricStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert_history = db.insert_ignore("metrics", _HISTORY_COLS)
        self._insert_history_many = _many_rows(self._insert_history, _ROWS_PER_INSERT)
        self._upsert_latest = db.upsert("latest_metrics", _LATEST_COLS, ("run_id", "key"), _NEWER)
        self._insert_key = db.insert_ignore("metric_keys", ("key",))
        # One point of an active run, found by its id in the statements that write it (write_active). The
        # stage is a constant of ours, written into the SQL: a parameter fewer to bind in each statement.
        run = f"FROM runs WHERE run_uuid = {db.ph} AND lifecycle_stage = '{LifecycleStage.ACTIVE}'"
        head, _, tail = self._insert_history.partition(" VALUES (" + db.ph + ", ")
        self._insert_active = f"{head} SELECT id, {tail.replace(')', f' {run}', 1)}"
        self._upsert_active = self._upsert_latest.replace("VALUES (" + db.ph, f"VALUES ((SELECT id {run})", 1)
        # key -> id of committed keys; ids are never reused, so the cache never lies. Keys interned
        # inside a unit of work are cached before its commit: a unit rolled back (or a block of the
        # writer's transaction undone) clears the cache.
        self._key_ids: dict[str, int] = {}
        db.after_rollback.append(self._key_ids.clear)
        self._copy_new_rows: Callable[..., bool] | None = None
        self._pg_few: dict[tuple[int, int], str] = {}  # see _pg_statement
        self._pg = db.dialect == "postgresql"
        if self._pg:  # psycopg is imported only where it is the driver
            from .pg_copy import copy_new_rows

            self._copy_new_rows = copy_new_rows

    def ensure_key(self, key: str) -> None:
        """:meth:`ensure_keys` of one key (known already, the usual case: nothing to do)."""
        if key not in self._key_ids:
            self.ensure_keys((key,))

    def ensure_keys(self, keys: Iterable[str]) -> None:
        """Intern new metric keys in a transaction of their own (call before a write transaction)."""
        missing = {k for k in keys if k not in self._key_ids}
        if not missing:
            return
        with self.db.fast_read() as tx:
            self._key_ids.update(self._lookup_keys(tx, missing))
        missing -= self._key_ids.keys()
        if missing:
            with self.db.fast_write() as tx:
                tx.executemany(self._insert_key, [(key,) for key in sorted(missing)])
                found = self._lookup_keys(tx, missing)
            self._key_ids.update(found)

    def _lookup_keys(self, tx: Tx, keys: set[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        ordered = sorted(keys)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            sql = self.db.sql(f"SELECT key, id FROM metric_keys WHERE key IN ({', '.join('?' * len(chunk))})")
            out.update(dict(tx.all(sql, chunk)))
        return out

    def key_id(self, tx: Tx, key: str) -> int | None:
        found = self._key_ids.get(key)
        if found is None:
            row = tx.one(self.db.sql("SELECT id FROM metric_keys WHERE key = ?"), (key,))
            found = None if row is None else row[0]
        return found

    def write_active(self, tx: Tx, run_id: str, metric: Metric) -> bool:
        """One point of the run ``run_id`` if that run is active, as :meth:`write` does, with the run looked
        up in the statement that inserts the point (one statement less than a lookup, then :meth:`write`).

        False, and nothing written, if no point was inserted: no such run, a run not active, or the point
        is stored already. The caller then looks the run up and, if it stands, calls :meth:`write` (which
        leaves a stored point as it is and moves the latest value on exactly as ever).
        """
        v = metric.value
        nan = v != v
        if nan:
            v = 0.0
        key, step, ts = metric.key, metric.step, metric.timestamp
        if not tx.execute(self._insert_active, (self._key_ids[key], step, ts, v, nan, run_id)).rowcount:
            return False
        tx.execute(self._upsert_active, (run_id, key, v, nan, ts, step))
        return True

    def write(self, tx: Tx, run_pk: int, metrics: Sequence[Metric]) -> None:
        """Insert points (identical ones once) and move each key's latest value forward.

        Keys must have been interned with :meth:`ensure_keys`. NaN is stored as 0
        with ``is_nan`` set (SQL has no portable NaN). A batch is folded to one
        latest point per key before the upsert, so no row is updated twice in a
        statement.
        """
        if not metrics:
            return
        if isinstance(metrics, MetricColumns):
            self._write_columns(tx, run_pk, metrics.series)
            return
        best: dict[str, tuple[int, int, float, bool]] = {}

        def rows() -> Iterator[tuple[Any, ...]]:
            best.clear()  # a second pass (COPY found a duplicate) folds again from scratch
            return _rows(run_pk, self._key_ids, metrics, best)

        # Rows stream into the INSERTs and are dropped once bound: a list of 100,000
        # tuples would outlive the young GC generations and make full collections.
        self._write(tx, run_pk, rows, len(metrics), best)

    def _write(
        self,
        tx: Tx,
        run_pk: int,
        make_rows: Callable[[], Iterable[tuple[Any, ...]]],
        count: int,
        best: dict[str, tuple[int, int, float, bool]],
    ) -> None:
        """``count`` history rows from ``make_rows()``, then ``best`` (complete once the rows are consumed).

        On PostgreSQL a batch below :data:`_COPY_MIN_ROWS` is one statement
        (history ``INSERT`` in a ``WITH``, latest upsert), and the upsert after
        a bigger batch one multi-row statement: psycopg's ``executemany`` runs a
        pipeline whose messages cost PostgreSQL more than the rows (a 5-metric
        batch: 0.45 vs 0.33 ms of backend CPU, 0.4 vs 0.2 ms of ours).
        """
        if not count:
            return
        if self._pg and count < _COPY_MIN_ROWS:
            history = list(make_rows())
            latest = _latest_rows(run_pk, best)
            sql = self._pg_statement(count, len(latest))
            tx.execute(sql, [*chain.from_iterable(history), *chain.from_iterable(latest)])
            return
        self._insert_rows(tx, make_rows, count)
        latest = _latest_rows(run_pk, best)
        if len(latest) == 1:
            tx.execute(self._upsert_latest, latest[0])
        elif self._pg:
            tx.execute(self._pg_statement(0, len(latest)), list(chain.from_iterable(latest)))
        else:
            tx.executemany(self._upsert_latest, latest)

    def _pg_statement(self, history: int, latest: int) -> str:
        """One statement inserting ``history`` rows (none: only the upsert) and upserting ``latest`` rows."""
        sql = self._pg_few.get((history, latest))
        if sql is None:
            sql = _many_rows(self._upsert_latest, latest)
            if history:
                sql = f"WITH history AS ({_many_rows(self._insert_history, history)}) {sql}"
            self._pg_few[history, latest] = sql
        return sql

    def _insert_rows(self, tx: Tx, make_rows: Callable[[], Iterable[tuple[Any, ...]]], count: int) -> None:
        """``count`` history rows from ``make_rows()`` (called once, or twice if a COPY met a stored row).

        On PostgreSQL a batch of :data:`_COPY_MIN_ROWS` or more is offered to
        ``COPY`` first; otherwise, and when that found a row already stored,
        :data:`_ROWS_PER_INSERT` rows to a statement, what is left over one by one.
        """
        copy = self._copy_new_rows
        if count >= _COPY_MIN_ROWS and copy and copy(tx.cur, "metrics", _HISTORY_COLS, _HISTORY_TYPES, make_rows()):
            return
        rows = make_rows()
        if count < _ROWS_PER_INSERT:
            few = list(rows)  # consumed to the end: a generator folds each point after yielding it
            if len(few) == 1:
                tx.execute(self._insert_history, few[0])  # psycopg's executemany pays for a pipeline
            else:
                tx.executemany(self._insert_history, few)
            return
        values = chain.from_iterable(rows)  # consumed in order: whole statements first, then the rest
        width = len(_HISTORY_COLS)
        statements = zip(*[values] * (_ROWS_PER_INSERT * width))
        tx.executemany(self._insert_history_many, islice(statements, count // _ROWS_PER_INSERT))  # type: ignore[arg-type]
        tx.executemany(self._insert_history, list(zip(*[values] * width)))

    def _write_columns(self, tx: Tx, run_pk: int, series: Sequence[Series]) -> None:
        """:meth:`write` straight from columns: no Metric or tuple per point, and a series
        without NaN is folded to its latest point with one C-level ``max``."""
        kid = self._key_ids
        columns: list[tuple[int, Sequence[int], Sequence[int], Sequence[float], Sequence[bool] | None]] = []
        best: dict[str, tuple[int, int, float, bool]] = {}
        count = 0
        for key, values, timestamps, steps in series:
            if not values:
                continue
            count += len(values)
            if not math.isnan(sum(values)):  # no NaN (a NaN, or +inf with -inf, makes the sum NaN)
                columns.append((kid[key], steps, timestamps, values, None))
                step, ts, v = max(zip(steps, timestamps, values))
                top = (step, ts, v, False)
            else:
                flags = list(map(math.isnan, values))
                stored = [0.0 if nan else v for v, nan in zip(values, flags)]
                columns.append((kid[key], steps, timestamps, stored, flags))
                top = _latest(steps, timestamps, stored, flags)
            b = best.get(key)
            if b is None or top[:3] > b[:3]:
                best[key] = top

        def rows() -> Iterator[tuple[Any, ...]]:
            return chain.from_iterable(
                zip(repeat(run_pk), repeat(key_id), steps, timestamps, values, repeat(False) if flags is None else flags)
                for key_id, steps, timestamps, values, flags in columns
            )

        self._write(tx, run_pk, rows, count, best)

    def history(self, tx: Tx, run_pk: int, key: str, limit: int | None = None, offset: int = 0) -> list[Metric]:
        nan = math.nan
        return [Metric(key, nan if n else v, ts, step) for step, ts, v, n in self.history_rows(tx, run_pk, key, limit, offset)]

    def history_rows(self, tx: Tx, run_pk: int, key: str, limit: int | None = None, offset: int = 0) -> list[Any]:
        """``key``'s points as ``(step, timestamp, value, is_nan)`` rows, by step, timestamp and value."""
        key_id = self.key_id(tx, key)
        if key_id is None:
            return []
        sql = (
            "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_id = ? AND key_id = ?"
            " ORDER BY step, timestamp, value LIMIT ? OFFSET ?"
        )
        return tx.all(self.db.sql(sql), (run_pk, key_id, -1 if limit is None and self.db.is_sqlite else limit, offset))

    def sampled_history(
        self, tx: Tx, run_pks: Sequence[int], key: str, start_step: int | None, end_step: int | None, max_results: int
    ) -> list[tuple[int, int, int, float, bool]]:
        """MLflow's sampled history: per run, the first point of each of ``max_results`` equal buckets
        of its points ordered by (step, timestamp, value), the last point always kept.

        Rows are (run_pk, step, timestamp, value, is_nan), each run's in order. A run whose steps
        are distinct and contiguous (the common case: one point per step) is sampled in SQL, the
        point of rank r being the one at step ``first + r``: only the chosen points travel. Other
        runs are read whole and sampled here.
        """
        key_id = self.key_id(tx, key)
        if key_id is None or not run_pks:
            return []
        k = max(int(max_results), 1)

        def where(pks: Sequence[int]) -> tuple[str, list[Any]]:
            clause = f"key_id = ? AND run_id IN ({', '.join('?' * len(pks))})"
            params: list[Any] = [key_id, *pks]
            for op, value in ((">=", start_step), ("<=", end_step)):
                if value is not None:
                    clause += f" AND step {op} ?"
                    params.append(value)
            return clause, params

        clause, params = where(run_pks)
        stats = tx.all(self.db.sql(
            f"SELECT run_id, COUNT(*), MIN(step), MAX(step), COUNT(DISTINCT step) FROM metrics WHERE {clause} GROUP BY run_id"
        ), params)
        contiguous: dict[tuple[int, int], list[int]] = {}
        others: list[int] = []
        for pk, n, lo, hi, distinct in stats:
            if n == distinct == hi - lo + 1:
                contiguous.setdefault((int(lo), int(n)), []).append(pk)
            else:
                others.append(pk)
        out: list[tuple[int, int, int, float, bool]] = []
        order = " ORDER BY run_id, step, timestamp, value"
        select = "SELECT run_id, step, timestamp, value, is_nan FROM metrics WHERE "
        for (lo, n), pks in contiguous.items():
            clause, params = where(pks)
            out += tx.all(self.db.sql(select + clause + _sampled_steps(lo, n, k) + order), params)
        if others:
            clause, params = where(others)
            by_run: dict[int, list[tuple[int, int, int, float, bool]]] = {}
            for row in tx.all(self.db.sql(select + clause + order), params):
                by_run.setdefault(row[0], []).append(row)
            for rows in by_run.values():
                out += _sample(rows, k)
        return out


def _rows(
    run_pk: int, key_ids: dict[str, int], metrics: Iterable[Metric], best: dict[str, tuple[int, int, float, bool]]
) -> Iterator[tuple[Any, ...]]:
    """History rows of ``metrics``; as they go, ``best`` gets each key's latest (step, timestamp, value, is_nan)."""
    for m in metrics:
        v = m.value
        nan = v != v
        if nan:
            v = 0.0
        key, step, ts = m.key, m.step, m.timestamp
        yield (run_pk, key_ids[key], step, ts, v, nan)
        b = best.get(key)
        if b is None or step > b[0] or (step == b[0] and (ts > b[1] or (ts == b[1] and v > b[2]))):
            best[key] = (step, ts, v, nan)


def _latest_rows(run_pk: int, best: dict[str, tuple[int, int, float, bool]]) -> list[tuple[Any, ...]]:
    """``latest_metrics`` rows (columns as :data:`_LATEST_COLS`) of each key's folded latest point."""
    return [(run_pk, key, v, nan, ts, step) for key, (step, ts, v, nan) in best.items()]


def _latest(
    steps: Sequence[int], timestamps: Sequence[int], values: Sequence[float], nans: Sequence[bool]
) -> tuple[int, int, float, bool]:
    """The first point with the greatest (step, timestamp, value), as :meth:`MetricStore.write` folds."""
    b = (steps[0], timestamps[0], values[0], nans[0])
    for point in zip(steps, timestamps, values, nans):
        if point[:3] > b[:3]:
            b = point
    return b


def _many_rows(insert: str, rows: int) -> str:
    """``insert`` (one ``VALUES (…)`` group) with ``rows`` groups."""
    head, _, tail = insert.partition(" VALUES ")
    group = tail[: tail.index(")") + 1]
    return f"{head} VALUES {', '.join([group] * rows)}{tail[len(group):]}"


def _sampled_steps(lo: int, n: int, k: int) -> str:
    """A WHERE condition keeping the steps :func:`_sample` would pick of ``n`` contiguous steps from ``lo``.

    The point of rank ``r`` is at step ``lo + r``; bucket ``b`` starts at ``b*size + min(b, extra)``.
    Integers of our own: safe to inline. Remainders as ``a - (a / b) * b`` (PostgreSQL's driver
    would take a bare ``%`` for a placeholder).
    """
    if n <= k:
        return ""
    last = lo + n - 1
    if k == 1:
        return f" AND step = {last}"
    size, extra = divmod(n, k)
    big = extra * (size + 1)  # ranks below this lie in the buckets of size + 1

    def mod(a: str, b: int) -> str:
        return f"(({a}) - (({a}) / {b}) * {b})"

    return (f" AND (step = {last} OR (step < {lo + n - size} AND ("
            f"(step < {lo + big} AND {mod(f'step - {lo}', size + 1)} = 0)"
            f" OR (step >= {lo + big} AND {mod(f'step - {lo + big}', size)} = 0))))")


def _sample(rows: list[Any], k: int) -> list[Any]:
    """MLflow's sampling of one run's ordered rows: the first row of each of ``k`` NTILE buckets,
    always ending on the last row."""
    n = len(rows)
    if n <= k:
        return rows
    if k == 1:
        return [rows[-1]]
    size, extra = divmod(n, k)
    picked, start = [], 0
    for bucket in range(k):
        picked.append(rows[start])
        start += size + (1 if bucket < extra else 0)
    picked[-1] = rows[-1]
    return picked
