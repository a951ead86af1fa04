"""Runs, their params, tags and dataset inputs in SQL."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import bindparam, text, update

from ..entities import DatasetInput, LifecycleStage, Metric, Param, RunInfo, RunTag
from ..entities.query import ATTRIBUTE, DATASET_CONTEXT_TAG, METRIC, PARAM, Comparison, OrderKey
from ..entities.wire import RunPage
from ..errors import InvalidParameterValue
from . import schema as s
from .database import Database, Tx
from .metrics import MetricStore
from .run_pages import RunPages
from .search import index_listed_filters, run_search_sql

RUN_NAME_TAG = "mlflow.runName"
_RECORD_COLS = ("run_uuid", "name", "experiment_id", "user_id", "status", "start_time", "end_time", "artifact_uri")
_RECORD_CONFLICT = (" ON CONFLICT (run_uuid) DO UPDATE SET status = excluded.status, end_time = excluded.end_time"
                    " RETURNING run_uuid, id")


# A run's rows in other tables, deleted by the run's integer key before the run (input_tags before
# inputs). Deleted explicitly, not through ON DELETE CASCADE, so a SQLite database whose foreign keys
# are not enforced is cleaned as well.
_RUN_CHILDREN = (
    ("input_tags", "input_id IN (SELECT id FROM inputs WHERE run_id IN ({ids}))"),
    ("inputs", "run_id IN ({ids})"),
    ("params", "run_id IN ({ids})"),
    ("tags", "run_id IN ({ids})"),
    ("metrics", "run_id IN ({ids})"),
    ("latest_metrics", "run_id IN ({ids})"),
    ("logged_model_metrics", "run_id IN ({ids})"),
    ("run_outputs", "run_id IN ({ids})"),
    ("run_model_inputs", "run_id IN ({ids})"),
)
_STILL_DELETED = text(
    "SELECT r.id, r.run_uuid FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id"
    " WHERE r.id IN :pks AND (r.lifecycle_stage = :stage OR e.lifecycle_stage = :stage)"
).bindparams(bindparam("pks", expanding=True))


class RunRow(NamedTuple):
    """What the write path needs to know about a run."""

    pk: int
    run_id: str
    experiment_id: int
    lifecycle_stage: str
    status: str


class RunStore:
    def __init__(self, db: Database, metrics: MetricStore) -> None:
        self.db = db
        self.metrics = metrics
        self.pages = RunPages(db)
        self._insert_param = db.insert_ignore("params", ("run_id", "key", "value"))
        self._upsert_tag = db.upsert("tags", ("run_id", "key", "value"), ("run_id", "key"))
        self._select_row = db.sql(
            "SELECT id, run_uuid, experiment_id, lifecycle_stage, status FROM runs WHERE run_uuid = ?"
        )
        self._insert_run = db.sql(
            "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time,"
            " artifact_uri, lifecycle_stage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            + ("" if db.is_sqlite else " RETURNING id")  # SQLite's cursor has it (a RETURNING costs it more)
        )
        self._insert_dataset = db.insert_ignore(
            "datasets",
            ("dataset_uuid", "experiment_id", "name", "digest", "source_type", "source", "schema", "profile"),
        )
        self._insert_input = db.sql("INSERT INTO inputs (input_uuid, dataset_id, run_id) VALUES (?, ?, ?)")
        self._upsert_input_tag = db.upsert("input_tags", ("input_id", "name", "value"), ("input_id", "name"))
        self._insert_model_input = db.insert_ignore("run_model_inputs", ("run_id", "model_id"))

    # ---- rows -------------------------------------------------------------

    def row(self, tx: Tx, run_id: str) -> RunRow | None:
        found = tx.one(self._select_row, (run_id,))
        return RunRow(*found) if found else None

    def create(self, tx: Tx, info: RunInfo, tags: dict[str, str]) -> int:
        cur = tx.execute(
            self._insert_run,
            (
                info.run_id, info.run_name, int(info.experiment_id), info.user_id, info.status,
                info.start_time, info.end_time, info.artifact_uri, info.lifecycle_stage,
            ),
        )
        pk = cur.lastrowid if self.db.is_sqlite else cur.fetchone()[0]
        tx.executemany(self._upsert_tag, [(pk, k, v) for k, v in tags.items()])
        return int(pk)

    def update(self, tx: Tx, pk: int, status: str | None, end_time: int | None, run_name: str | None) -> None:
        """Set whichever of status, end time and name are given (the name also as the run-name tag)."""
        sets, values = [], []
        for column, value in (("status", status), ("end_time", end_time), ("name", run_name)):
            if value is not None:
                sets.append(f"{column} = ?")
                values.append(value)
        if sets:
            tx.execute(self.db.sql(f"UPDATE runs SET {', '.join(sets)} WHERE id = ?"), (*values, pk))
        if run_name is not None:
            tx.execute(self._upsert_tag, (pk, RUN_NAME_TAG, run_name))

    def set_lifecycle(self, pk: int, stage: str, now: int) -> None:
        with self.db.write() as conn:
            conn.execute(
                update(s.runs)
                .where(s.runs.c.id == pk)
                .values(lifecycle_stage=stage, deleted_time=now if stage == LifecycleStage.DELETED else None)
            )

    def set_lifecycle_of_experiment(self, experiment_id: int, stage: str, now: int) -> None:
        """Delete or restore every run of an experiment (with the experiment, as MLflow does)."""
        with self.db.write() as conn:
            conn.execute(
                update(s.runs)
                .where(s.runs.c.experiment_id == experiment_id)
                .values(lifecycle_stage=stage, deleted_time=now if stage == LifecycleStage.DELETED else None)
            )

    def purge(self, pks: Sequence[int]) -> tuple[list[str], Counter[str]]:
        """Delete these runs and their rows in other tables, in one transaction (``modelyard gc``): the
        run ids purged and the rows deleted per table. Only runs still deleted (or in a deleted
        experiment) when the transaction holds the write lock go: one restored meanwhile stays."""
        if not pks:
            return [], Counter()
        counts: Counter[str] = Counter()
        with self.db.write() as conn:
            still = conn.execute(_STILL_DELETED, {"pks": list(pks), "stage": LifecycleStage.DELETED}).all()
            if not still:
                return [], counts
            ids = ", ".join(str(int(r[0])) for r in still)  # integers from our own query: safe to inline
            for table, where in _RUN_CHILDREN:
                counts[table] += conn.execute(text(f"DELETE FROM {table} WHERE {where.format(ids=ids)}")).rowcount or 0
            counts["runs"] += conn.execute(text(f"DELETE FROM runs WHERE id IN ({ids})")).rowcount or 0
        return [r[1] for r in still], +counts

    # ---- writes -----------------------------------------------------------

    def log_batch(
        self,
        tx: Tx,
        pk: int,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Write one batch inside ``tx``'s transaction (the caller commits)."""
        if params:
            self._write_params(tx, pk, params)
        if tags:
            folded = {t.key: t.value for t in tags}
            tx.executemany(self._upsert_tag, [(pk, k, v) for k, v in folded.items()])
            if RUN_NAME_TAG in folded:
                tx.execute(self.db.sql("UPDATE runs SET name = ? WHERE id = ?"), (folded[RUN_NAME_TAG], pk))
        if metrics:
            self.metrics.write(tx, pk, metrics)

    def record_many(self, tx: Tx, runs: Sequence[dict[str, Any]]) -> dict[str, int]:
        """Create or update many runs with their tags, params and metrics: one statement per table.

        A run dict has ``run_uuid``, ``name``, ``experiment_id``, ``user_id``, ``status``,
        ``start_time``, ``end_time``, ``artifact_uri`` and optional ``tags``, ``params`` (dicts)
        and ``metrics`` (keys interned). A run recorded again keeps its name and start time and
        takes the new status and end time; a run listed twice ends as its last record says, a
        tag keeps its last value and a param its first (write-once). Returns run id -> pk.
        """
        rows: dict[str, list[Any]] = {}
        for r in runs:
            found = rows.get(r["run_uuid"])
            if found is None:
                rows[r["run_uuid"]] = [r["run_uuid"], r["name"], int(r["experiment_id"]), r.get("user_id"),
                                       r["status"], r.get("start_time"), r.get("end_time"), r["artifact_uri"]]
            else:  # what a later upsert of the same run changes
                found[4], found[6] = r["status"], r.get("end_time")
        pks: dict[str, int] = dict(self.db.insert_rows(
            tx, "runs", (*_RECORD_COLS, "lifecycle_stage"), list(rows.values()), _RECORD_CONFLICT, literal=", 'active'",
        ))
        tags: dict[tuple[int, str], str] = {}
        params: dict[tuple[int, str], str] = {}
        for r in runs:
            pk = pks[r["run_uuid"]]
            if r.get("tags"):
                tags.update({(pk, k): v for k, v in r["tags"].items()})
            for k, v in (r.get("params") or {}).items():
                params.setdefault((pk, k), v)
            if r.get("metrics"):
                self.metrics.write(tx, pk, r["metrics"])
        self.db.insert_rows(tx, "tags", ("run_id", "key", "value"), [(*k, v) for k, v in tags.items()],
                            " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value")
        self.db.insert_rows(tx, "params", ("run_id", "key", "value"), [(*k, v) for k, v in params.items()],
                            " ON CONFLICT DO NOTHING")
        return pks

    def _write_params(self, tx: Tx, pk: int, params: Sequence[Param]) -> None:
        wanted: dict[str, str] = {}
        for p in params:
            if wanted.setdefault(p.key, p.value) != p.value:
                raise InvalidParameterValue(
                    f"Duplicate parameter keys with different values in one batch: {p.key!r}. "
                    "Log each param once."
                )
        tx.executemany(self._insert_param, [(pk, k, v) for k, v in wanted.items()])
        if tx.cur.rowcount == len(wanted):
            return  # every one inserted now (the usual case: new params): none was logged before
        # Params are write-once: whatever won (ours or an earlier write) must equal ours.
        keys = list(wanted)
        stored = tx.all(
            self.db.sql(f"SELECT key, value FROM params WHERE run_id = ? AND key IN ({', '.join('?' * len(keys))})"),
            [pk, *keys],
        )
        changed = [(k, v) for k, v in stored if wanted[k] != v]
        if changed:
            key, old = changed[0]
            run_id = tx.one(self.db.sql("SELECT run_uuid FROM runs WHERE id = ?"), (pk,))[0]
            raise InvalidParameterValue(
                f"Changing param values is not allowed. Param with key='{key}' was already logged "
                f"with value='{old}' for run ID='{run_id}'. "
                f"Attempted logging new value '{wanted[key]}'."
            )

    def delete_tag(self, tx: Tx, pk: int, key: str) -> int:
        return int(tx.execute(self.db.sql("DELETE FROM tags WHERE run_id = ? AND key = ?"), (pk, key)).rowcount)

    def log_inputs(self, tx: Tx, pk: int, experiment_id: int, inputs: Sequence[DatasetInput]) -> None:
        q = self.db.sql
        find_dataset = q("SELECT id FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?")
        find_input = q("SELECT id FROM inputs WHERE run_id = ? AND dataset_id = ?")
        for item in inputs:
            ds = item.dataset
            key = (experiment_id, ds.name, ds.digest)
            found = tx.one(find_dataset, key)
            if found is None:
                tx.execute(
                    self._insert_dataset,
                    (uuid.uuid4().hex, experiment_id, ds.name, ds.digest, ds.source_type, ds.source, ds.schema, ds.profile),
                )
                found = tx.one(find_dataset, key)
            dataset_pk = found[0]
            found = tx.one(find_input, (pk, dataset_pk))
            if found is None:
                tx.execute(self._insert_input, (uuid.uuid4().hex, dataset_pk, pk))
                found = tx.one(find_input, (pk, dataset_pk))
            tx.executemany(self._upsert_input_tag, [(found[0], t.key, t.value) for t in item.tags])

    def dataset_summaries(self, tx: Tx, experiment_ids: Sequence[int], limit: int) -> list[tuple[Any, ...]]:
        """Distinct (experiment id, name, digest, context or None) of the datasets runs used in these experiments."""
        if not experiment_ids:
            return []
        marks = ", ".join("?" * len(experiment_ids))
        sql = self.db.sql(
            "SELECT DISTINCT d.experiment_id, d.name, d.digest, t.value FROM datasets d"
            " JOIN inputs i ON i.dataset_id = d.id"
            " LEFT JOIN input_tags t ON t.input_id = i.id AND t.name = ?"
            f" WHERE d.experiment_id IN ({marks})"
            " ORDER BY d.experiment_id, d.name, d.digest, t.value LIMIT ?")
        return tx.all(sql, (DATASET_CONTEXT_TAG, *experiment_ids, limit))

    def log_model_inputs(self, tx: Tx, pk: int, model_ids: Sequence[str]) -> list[str]:
        """Record active logged models as inputs of run ``pk`` (each once); the ids not found, none written then."""
        if not model_ids:
            return []
        wanted = sorted(set(model_ids))
        marks = ", ".join("?" * len(wanted))
        found = dict(tx.all(self.db.sql(
            f"SELECT model_id, id FROM logged_models WHERE model_id IN ({marks}) AND lifecycle_stage = ?"),
            (*wanted, LifecycleStage.ACTIVE)))
        missing = [m for m in wanted if m not in found]
        if not missing:
            tx.executemany(self._insert_model_input, [(pk, found[m]) for m in wanted])
        return missing

    # ---- reads ------------------------------------------------------------

    def page_of(self, run_id: str) -> RunPage | None:
        """One run as a page of rows (see ``entities/wire.py``), or None."""
        with self.db.fast_read() as tx:
            return self.pages.one(tx, run_id)

    def search_page(
        self,
        experiment_ids: list[int],
        stages: tuple[str, ...],
        filters: list[Comparison],
        order_by: list[OrderKey],
        limit: int,
        offset: int,
        pairs_json: bool = False,
    ) -> RunPage:
        """A page of matching runs as rows, in MLflow's order (see ``store/search.py``).

        ``pairs_json``: params and tags as database-written JSON where it is faster (``RunPages.read``).
        """
        with self.db.fast_read() as tx:
            walk = self._walk_sort_index(tx, experiment_ids, order_by, offset + limit, filters)
            sql, params = run_search_sql(
                experiment_ids, stages, filters, order_by, limit, offset, self.db.dialect, walk_sort_index=walk
            )
            return self.pages.read(tx, tx.all(sql, params), pairs_json)

    def _walk_sort_index(
        self, tx: Tx, experiment_ids: list[int], order_by: list[OrderKey], need: int, filters: Sequence[Comparison] = ()
    ) -> bool:
        """Whether to read a search in the order of its sort key's index (see ``run_search_sql``).

        Worth it when the experiments hold a quarter or more of all runs and
        many more than the page needs: then matches come early in the index.
        The probe reads the experiments' index only up to that bar (the row at
        offset bar - 1 exists or not: half the cost of counting), so it costs little.
        """
        if len(order_by) != 1 or order_by[0].kind not in (METRIC, PARAM):
            return False
        if not self.db.is_sqlite:
            # Without statistics (a table never analyzed: reltuples -1) PostgreSQL plans the walk's
            # per-row filters as range scans: seconds per query. Its own plan is then the safe one.
            seen = tx.one(
                "SELECT min(reltuples) FROM pg_class WHERE relname IN ('runs', 'latest_metrics', 'params', 'tags')"
            )[0]
            if seen is None or seen < 0:
                return False
        total = tx.one("SELECT max(id) FROM runs")[0] or 0
        bar = max(8 * need, total // 4)
        if total < bar:
            return False
        marks = ", ".join([self.db.ph] * len(experiment_ids))
        sql = f"SELECT 1 FROM runs WHERE experiment_id IN ({marks}) LIMIT 1 OFFSET {self.db.ph}"
        if tx.one(sql, [*experiment_ids, bar - 1]) is None:
            return False
        # On SQLite the walk itself starts from a selective filter when it pays (run_search_sql);
        # PostgreSQL's own plan does that, given the chance.
        return self.db.is_sqlite or not self._selective_on_postgres(tx, filters, need, total)

    def _selective_on_postgres(self, tx: Tx, filters: Sequence[Comparison], need: int, total: int) -> bool:
        """Whether a filter lists so few runs (``hits * hits < need * total``, as ``run_search_sql``
        decides on SQLite) that starting from its index beats walking the sort key's: by the
        planner's own row estimate (a counted probe costs PostgreSQL ~1 us an entry). When unsure
        it walks, as before this check."""
        for _, f in index_listed_filters(filters):
            if f.kind == ATTRIBUTE:  # run_id = / IN: a handful of runs
                return True
            table = "params" if f.kind == PARAM else "latest_metrics"
            if f.kind == PARAM:
                value: Any = f.value
            else:
                try:
                    value = float(f.value)  # type: ignore[arg-type]
                except (TypeError, ValueError):
                    continue
            # The value alone: an upper bound on (key, value) hits, which the planner would
            # underestimate as if key and value were independent (3-10x on typical params).
            plan = tx.one(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE value {f.op} %s", (value,))[0]
            rows = plan[0]["Plan"]["Plan Rows"]
            if rows * rows < need * total:
                return True
        return False
