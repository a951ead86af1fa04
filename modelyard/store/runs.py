"""Runs, their params, tags and dataset inputs in SQL."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, select, update

from ..entities import (
    Dataset,
    DatasetInput,
    InputTag,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunTag,
)
from ..errors import InvalidParameterValue
from . import schema as s
from .database import Database, Tx
from .metrics import MetricStore

RUN_NAME_TAG = "mlflow.runName"
_CHUNK = 5000  # ids per IN (...) list


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
        self._insert_param = db.insert_ignore("params", ("run_id", "key", "value"))
        self._upsert_tag = db.upsert("tags", ("run_id", "key", "value"), ("run_id", "key"))
        self._select_row = db.sql(
            "SELECT id, run_uuid, experiment_id, lifecycle_stage, status FROM runs WHERE run_uuid = ?"
        )
        self._insert_run = db.sql(
            "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time,"
            " artifact_uri, lifecycle_stage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
        )
        self._insert_dataset = db.insert_ignore(
            "datasets",
            ("dataset_uuid", "experiment_id", "name", "digest", "source_type", "source", "schema", "profile"),
        )
        self._insert_input = db.sql("INSERT INTO inputs (input_uuid, dataset_id, run_id) VALUES (?, ?, ?)")
        self._upsert_input_tag = db.upsert("input_tags", ("input_id", "name", "value"), ("input_id", "name"))

    # ---- rows -------------------------------------------------------------

    def row(self, tx: Tx, run_id: str) -> RunRow | None:
        found = tx.one(self._select_row, (run_id,))
        return RunRow(*found) if found else None

    def create(self, tx: Tx, info: RunInfo, tags: dict[str, str]) -> int:
        pk = tx.one(
            self._insert_run,
            (
                info.run_id, info.run_name, int(info.experiment_id), info.user_id, info.status,
                info.start_time, info.end_time, info.artifact_uri, info.lifecycle_stage,
            ),
        )[0]
        tx.executemany(self._upsert_tag, [(pk, k, v) for k, v in tags.items()])
        return int(pk)

    def update(self, pk: int, status: str | None, end_time: int | None, run_name: str | None) -> None:
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = status
        if end_time is not None:
            values["end_time"] = end_time
        if run_name is not None:
            values["name"] = run_name
        with self.db.write() as conn:
            if values:
                conn.execute(update(s.runs).where(s.runs.c.id == pk).values(values))
            if run_name is not None:
                conn.exec_driver_sql(self._upsert_tag, (pk, RUN_NAME_TAG, run_name))

    def set_lifecycle(self, pk: int, stage: str, now: int) -> None:
        with self.db.write() as conn:
            conn.execute(
                update(s.runs)
                .where(s.runs.c.id == pk)
                .values(lifecycle_stage=stage, deleted_time=now if stage == LifecycleStage.DELETED else None)
            )

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

    def _write_params(self, tx: Tx, pk: int, params: Sequence[Param]) -> None:
        wanted: dict[str, str] = {}
        for p in params:
            if wanted.setdefault(p.key, p.value) != p.value:
                raise InvalidParameterValue(
                    f"Duplicate parameter keys with different values in one batch: {p.key!r}. "
                    "Log each param once."
                )
        tx.executemany(self._insert_param, [(pk, k, v) for k, v in wanted.items()])
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

    # ---- reads ------------------------------------------------------------

    def get(self, run_id: str) -> Run | None:
        with self.db.read() as conn:
            runs = self.load(conn, select(*_RUN_COLUMNS).where(s.runs.c.run_uuid == run_id))
        return runs[0] if runs else None

    def load(self, conn: Connection, query: Select[Any]) -> list[Run]:
        """Materialise the runs a query selects (columns ``_RUN_COLUMNS``), in its order.

        The page comes from SQLAlchemy; the runs' params, tags, latest metrics
        and inputs come through the bare cursor of the same transaction, a few
        statements per 5,000 runs.
        """
        rows = conn.execute(query).all()
        if not rows:
            return []
        pks = [r.id for r in rows]
        params: dict[int, dict[str, str]] = {}
        tags: dict[int, dict[str, str]] = {}
        metrics: dict[int, list[Metric]] = {}
        inputs: dict[int, list[DatasetInput]] = {}
        tx = Tx(conn.connection.cursor())
        nan = math.nan
        for start in range(0, len(pks), _CHUNK):
            chunk = pks[start : start + _CHUNK]
            marks = ", ".join([self.db.ph] * len(chunk))
            for run_pk, key, value in tx.all(f"SELECT run_id, key, value FROM params WHERE run_id IN ({marks})", chunk):
                params.setdefault(run_pk, {})[key] = value
            for run_pk, key, value in tx.all(f"SELECT run_id, key, value FROM tags WHERE run_id IN ({marks})", chunk):
                tags.setdefault(run_pk, {})[key] = value
            for run_pk, key, value, is_nan, ts, step in tx.all(
                "SELECT run_id, key, value, is_nan, timestamp, step FROM latest_metrics"
                f" WHERE run_id IN ({marks})",
                chunk,
            ):
                metrics.setdefault(run_pk, []).append(Metric(key, nan if is_nan else value, ts, step))
            inputs.update(self._load_inputs(tx, chunk))
        runs = []
        for r in rows:
            ms = metrics.get(r.id, [])
            runs.append(
                Run(
                    info=RunInfo(
                        run_id=r.run_uuid,
                        experiment_id=str(r.experiment_id),
                        run_name=r.name or "",
                        user_id=r.user_id or "",
                        status=r.status,
                        start_time=r.start_time,
                        end_time=r.end_time,
                        artifact_uri=r.artifact_uri or "",
                        lifecycle_stage=r.lifecycle_stage,
                    ),
                    data=RunData(
                        metrics={m.key: m.value for m in ms},
                        params=params.get(r.id, {}),
                        tags=tags.get(r.id, {}),
                        metric_objects=ms,
                    ),
                    inputs=RunInputs(inputs.get(r.id, [])),
                )
            )
        return runs

    def _load_inputs(self, tx: Tx, pks: Sequence[int]) -> dict[int, list[DatasetInput]]:
        marks = ", ".join([self.db.ph] * len(pks))
        rows = tx.all(
            "SELECT i.id, i.run_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile"
            f" FROM inputs i JOIN datasets d ON d.id = i.dataset_id WHERE i.run_id IN ({marks}) ORDER BY i.id",
            pks,
        )
        if not rows:
            return {}
        input_pks = [r[0] for r in rows]
        tags: dict[int, list[InputTag]] = {}
        for input_pk, name, value in tx.all(
            f"SELECT input_id, name, value FROM input_tags WHERE input_id IN ({', '.join([self.db.ph] * len(input_pks))})",
            input_pks,
        ):
            tags.setdefault(input_pk, []).append(InputTag(name, value))
        out: dict[int, list[DatasetInput]] = {}
        for input_pk, run_pk, name, digest, source_type, source, schema, profile in rows:
            out.setdefault(run_pk, []).append(
                DatasetInput(Dataset(name, digest, source_type, source, schema, profile), tags.get(input_pk, []))
            )
        return out


_RUN_COLUMNS = (
    s.runs.c.id,
    s.runs.c.run_uuid,
    s.runs.c.name,
    s.runs.c.experiment_id,
    s.runs.c.user_id,
    s.runs.c.status,
    s.runs.c.start_time,
    s.runs.c.end_time,
    s.runs.c.artifact_uri,
    s.runs.c.lifecycle_stage,
)
RUN_COLUMNS = _RUN_COLUMNS
