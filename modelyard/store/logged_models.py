"""MLflow 3 logged models in SQL: the models, their tags, params, linked metrics and run outputs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, delete, insert, select, update

from ..entities import Metric
from ..entities.logged_models import LoggedModel, LoggedModelOutput
from ..entities.query import Comparison
from ..errors import InvalidParameterValue
from . import schema as s
from .database import Database
from .logged_models_schema import (
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
    run_outputs,
)
from .logged_models_search import DatasetRef, ModelOrder, logged_model_search_select

_CHUNK = 5000  # ids per IN (...) list
_METRIC_COLS = ("model_id", "key", "step", "timestamp", "run_id", "value", "is_nan", "dataset_name", "dataset_digest")


class ModelRow(NamedTuple):
    """What the write path needs to know about a logged model."""

    pk: int
    model_id: str
    experiment_id: int
    lifecycle_stage: str


class LinkedMetric(NamedTuple):
    """A metric point linked to a model, as written: (model pk, run pk, point)."""

    model_pk: int
    run_pk: int
    metric: Metric


class LoggedModelStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._upsert_tag = db.upsert("logged_model_tags", ("model_id", "key", "value"), ("model_id", "key"))
        self._insert_param = db.insert_ignore("logged_model_params", ("model_id", "key", "value"))
        self._insert_metric = db.insert_ignore("logged_model_metrics", _METRIC_COLS)
        self._insert_output = db.insert_ignore("run_outputs", ("run_id", "model_id", "step"))

    # ---- rows -------------------------------------------------------------

    def row(self, conn: Connection, model_id: str) -> ModelRow | None:
        found = conn.execute(
            select(logged_models.c.id, logged_models.c.model_id, logged_models.c.experiment_id,
                   logged_models.c.lifecycle_stage).where(logged_models.c.model_id == model_id)
        ).first()
        return ModelRow(*found) if found else None

    def run_row(self, conn: Connection, run_id: str) -> tuple[int, str] | None:
        """(pk, lifecycle stage) of a run, read in this transaction."""
        r = s.runs.c
        found = conn.execute(select(r.id, r.lifecycle_stage).where(r.run_uuid == run_id)).first()
        return (found[0], found[1]) if found else None

    def rows(self, conn: Connection, model_ids: Sequence[str]) -> dict[str, ModelRow]:
        c = logged_models.c
        found = conn.execute(
            select(c.id, c.model_id, c.experiment_id, c.lifecycle_stage).where(c.model_id.in_(list(model_ids)))
        ).all()
        return {r.model_id: ModelRow(*r) for r in found}

    # ---- writes -----------------------------------------------------------

    def create(self, model: LoggedModel) -> None:
        """Insert the model with its tags and params in one transaction."""
        with self.db.write() as conn:
            pk = conn.execute(
                insert(logged_models).values(
                    model_id=model.model_id,
                    experiment_id=int(model.experiment_id),
                    name=model.name,
                    artifact_location=model.artifact_location,
                    creation_timestamp_ms=model.creation_timestamp,
                    last_updated_timestamp_ms=model.last_updated_timestamp,
                    status=model.status,
                    lifecycle_stage=model.lifecycle_stage,
                    model_type=model.model_type,
                    source_run_id=model.source_run_id,
                    status_message=model.status_message,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            self.set_tags(conn, pk, model.tags)
            self.log_params(conn, pk, model.params, model.model_id)

    def update(self, conn: Connection, pk: int, now: int, **values: Any) -> None:
        conn.execute(update(logged_models).where(logged_models.c.id == pk).values(last_updated_timestamp_ms=now, **values))

    def set_tags(self, conn: Connection, pk: int, tags: dict[str, str]) -> None:
        if tags:
            conn.exec_driver_sql(self._upsert_tag, [(pk, k, v) for k, v in tags.items()])

    def tag(self, conn: Connection, pk: int, key: str) -> str | None:
        t = logged_model_tags.c
        return conn.execute(select(t.value).where(t.model_id == pk, t.key == key)).scalar()

    def delete_tag(self, conn: Connection, pk: int, key: str) -> int:
        t = logged_model_tags.c
        return conn.execute(delete(logged_model_tags).where(t.model_id == pk, t.key == key)).rowcount

    def log_params(self, conn: Connection, pk: int, params: dict[str, str], model_id: str) -> None:
        """Params are write-once: logging a key again with the same value is a no-op, another value an error."""
        if not params:
            return
        conn.exec_driver_sql(self._insert_param, [(pk, k, v) for k, v in params.items()])
        p = logged_model_params.c
        stored = conn.execute(select(p.key, p.value).where(p.model_id == pk, p.key.in_(list(params)))).all()
        changed = [(k, v) for k, v in stored if params[k] != v]
        if changed:
            key, old = changed[0]
            raise InvalidParameterValue(
                f"Changing param values is not allowed. Param with key='{key}' was already logged "
                f"with value='{old}' for logged model ID='{model_id}'. Attempted logging new value '{params[key]}'."
            )

    def write_metrics(self, conn: Connection, points: Sequence[LinkedMetric]) -> None:
        """Insert linked metric points; a point already stored for the same key is kept."""
        rows = []
        for model_pk, run_pk, m in points:
            nan = m.value != m.value
            rows.append((model_pk, m.key, m.step, m.timestamp, run_pk, 0.0 if nan else m.value, nan,
                         m.dataset_name, m.dataset_digest))
        if rows:
            conn.exec_driver_sql(self._insert_metric, rows)

    def log_outputs(self, conn: Connection, run_pk: int, outputs: Sequence[tuple[int, int]]) -> None:
        """Record (model pk, step) pairs as outputs of a run; repeats are stored once."""
        if outputs:
            conn.exec_driver_sql(self._insert_output, [(run_pk, model_pk, step) for model_pk, step in outputs])

    # ---- reads ------------------------------------------------------------

    def get(self, model_id: str) -> LoggedModel | None:
        with self.db.read() as conn:
            found = self.load(conn, select(logged_models).where(logged_models.c.model_id == model_id))
        return found[0] if found else None

    def search(
        self,
        experiment_ids: list[int],
        filters: list[Comparison],
        datasets: list[DatasetRef],
        order_by: list[ModelOrder],
        limit: int,
        offset: int,
    ) -> list[LoggedModel]:
        query = logged_model_search_select(experiment_ids, filters, datasets, order_by, limit, offset, self.db.dialect)
        with self.db.read() as conn:
            return self.load(conn, query)

    def outputs(self, conn: Connection, run_ids: Sequence[str]) -> dict[str, list[LoggedModelOutput]]:
        """The model outputs of each run (by public run id) that has any, in the order the models were made."""
        o, m, r = run_outputs.c, logged_models.c, s.runs.c
        out: dict[str, list[LoggedModelOutput]] = {}
        for start in range(0, len(run_ids), _CHUNK):
            query = (
                select(r.run_uuid, m.model_id, o.step)
                .join(s.runs, r.id == o.run_id)
                .join(logged_models, m.id == o.model_id)
                .where(r.run_uuid.in_(list(run_ids[start : start + _CHUNK])))
                .order_by(r.run_uuid, m.creation_timestamp_ms, m.model_id, o.step)
            )
            for run_id, model_id, step in conn.execute(query):
                out.setdefault(run_id, []).append(LoggedModelOutput(model_id, step))
        return out

    def load(self, conn: Connection, query: Select[Any]) -> list[LoggedModel]:
        """Materialise the models a query selects (all ``logged_models`` columns), in its order."""
        rows = conn.execute(query).all()
        if not rows:
            return []
        pks = [r.id for r in rows]
        tags: dict[int, dict[str, str]] = {}
        params: dict[int, dict[str, str]] = {}
        metrics: dict[int, list[Metric]] = {}
        by_pk = {r.id: r.model_id for r in rows}
        for start in range(0, len(pks), _CHUNK):
            chunk = pks[start : start + _CHUNK]
            for table, into in ((logged_model_tags, tags), (logged_model_params, params)):
                for pk, key, value in conn.execute(
                    select(table.c.model_id, table.c.key, table.c.value).where(table.c.model_id.in_(chunk))
                ):
                    into.setdefault(pk, {})[key] = value
            mm, r = logged_model_metrics.c, s.runs.c
            query_metrics = (
                select(mm.model_id, mm.key, mm.value, mm.is_nan, mm.timestamp, mm.step, r.run_uuid,
                       mm.dataset_name, mm.dataset_digest)
                .join(s.runs, r.id == mm.run_id)
                .where(mm.model_id.in_(chunk))
                .order_by(mm.model_id, mm.key, mm.step, mm.timestamp, r.run_uuid)
            )
            for pk, key, value, nan, ts, step, run_id, ds_name, ds_digest in conn.execute(query_metrics):
                metrics.setdefault(pk, []).append(
                    Metric(key, math.nan if nan else value, ts, step, run_id, by_pk[pk], ds_name, ds_digest)
                )
        return [
            LoggedModel(
                model_id=r.model_id,
                experiment_id=str(r.experiment_id),
                name=r.name,
                artifact_location=r.artifact_location,
                creation_timestamp=r.creation_timestamp_ms,
                last_updated_timestamp=r.last_updated_timestamp_ms,
                status=r.status,
                lifecycle_stage=r.lifecycle_stage,
                model_type=r.model_type,
                source_run_id=r.source_run_id,
                status_message=r.status_message,
                tags=tags.get(r.id, {}),
                params=params.get(r.id, {}),
                metrics=metrics.get(r.id, []),
            )
            for r in rows
        ]
