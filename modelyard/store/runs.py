"""Runs, their params, tags and dataset inputs in SQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, delete, insert, select, update

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
from .database import Database
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

    # ---- rows -------------------------------------------------------------

    def row(self, conn: Connection, run_id: str) -> RunRow | None:
        r = s.runs.c
        found = conn.execute(
            select(r.id, r.run_uuid, r.experiment_id, r.lifecycle_stage, r.status).where(r.run_uuid == run_id)
        ).first()
        return RunRow(*found) if found else None

    def create(self, info: RunInfo, tags: dict[str, str]) -> None:
        with self.db.write() as conn:
            pk = conn.execute(
                insert(s.runs).values(
                    run_uuid=info.run_id,
                    name=info.run_name,
                    experiment_id=int(info.experiment_id),
                    user_id=info.user_id,
                    status=info.status,
                    start_time=info.start_time,
                    end_time=info.end_time,
                    artifact_uri=info.artifact_uri,
                    lifecycle_stage=info.lifecycle_stage,
                )
            ).inserted_primary_key[0]
            if tags:
                conn.exec_driver_sql(self._upsert_tag, [(pk, k, v) for k, v in tags.items()])

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
        conn: Connection,
        pk: int,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Write one batch inside ``conn``'s transaction (the caller commits)."""
        if params:
            self._write_params(conn, pk, params)
        if tags:
            folded = {t.key: t.value for t in tags}
            conn.exec_driver_sql(self._upsert_tag, [(pk, k, v) for k, v in folded.items()])
            if RUN_NAME_TAG in folded:
                conn.execute(update(s.runs).where(s.runs.c.id == pk).values(name=folded[RUN_NAME_TAG]))
        if metrics:
            self.metrics.write(conn, pk, metrics)

    def _write_params(self, conn: Connection, pk: int, params: Sequence[Param]) -> None:
        wanted: dict[str, str] = {}
        for p in params:
            if wanted.setdefault(p.key, p.value) != p.value:
                raise InvalidParameterValue(
                    f"Duplicate parameter keys with different values in one batch: {p.key!r}. "
                    "Log each param once."
                )
        conn.exec_driver_sql(self._insert_param, [(pk, k, v) for k, v in wanted.items()])
        # Params are write-once: whatever won (ours or an earlier write) must equal ours.
        p = s.params.c
        stored = conn.execute(select(p.key, p.value).where(p.run_id == pk, p.key.in_(list(wanted)))).all()
        changed = [(k, v) for k, v in stored if wanted[k] != v]
        if changed:
            key, old = changed[0]
            raise InvalidParameterValue(
                f"Changing param values is not allowed. Param with key='{key}' was already logged "
                f"with value='{old}' for run ID='{self._uuid(conn, pk)}'. "
                f"Attempted logging new value '{wanted[key]}'."
            )

    def _uuid(self, conn: Connection, pk: int) -> str:
        return conn.execute(select(s.runs.c.run_uuid).where(s.runs.c.id == pk)).scalar_one()

    def delete_tag(self, conn: Connection, pk: int, key: str) -> int:
        return conn.execute(delete(s.tags).where(s.tags.c.run_id == pk, s.tags.c.key == key)).rowcount

    def log_inputs(self, conn: Connection, pk: int, experiment_id: int, inputs: Sequence[DatasetInput]) -> None:
        d = s.datasets.c
        for item in inputs:
            ds = item.dataset
            where = (d.experiment_id == experiment_id, d.name == ds.name, d.digest == ds.digest)
            dataset_pk = conn.execute(select(d.id).where(*where)).scalar()
            if dataset_pk is None:
                conn.exec_driver_sql(
                    self.db.insert_ignore(
                        "datasets",
                        ("dataset_uuid", "experiment_id", "name", "digest", "source_type", "source", "schema", "profile"),
                    ),
                    (uuid.uuid4().hex, experiment_id, ds.name, ds.digest, ds.source_type, ds.source, ds.schema, ds.profile),
                )
                dataset_pk = conn.execute(select(d.id).where(*where)).scalar_one()
            i = s.inputs.c
            input_pk = conn.execute(select(i.id).where(i.run_id == pk, i.dataset_id == dataset_pk)).scalar()
            if input_pk is None:
                input_pk = conn.execute(
                    insert(s.inputs).values(input_uuid=uuid.uuid4().hex, dataset_id=dataset_pk, run_id=pk)
                ).inserted_primary_key[0]
            if item.tags:
                conn.exec_driver_sql(
                    self.db.upsert("input_tags", ("input_id", "name", "value"), ("input_id", "name")),
                    [(input_pk, t.key, t.value) for t in item.tags],
                )

    # ---- reads ------------------------------------------------------------

    def get(self, run_id: str) -> Run | None:
        with self.db.read() as conn:
            runs = self.load(conn, select(*_RUN_COLUMNS).where(s.runs.c.run_uuid == run_id))
        return runs[0] if runs else None

    def load(self, conn: Connection, query: Select[Any]) -> list[Run]:
        """Materialise the runs a query selects (columns ``_RUN_COLUMNS``), in its order."""
        rows = conn.execute(query).all()
        if not rows:
            return []
        pks = [r.id for r in rows]
        params: dict[int, dict[str, str]] = {}
        tags: dict[int, dict[str, str]] = {}
        metrics: dict[int, list[Metric]] = {}
        inputs: dict[int, list[DatasetInput]] = {}
        for start in range(0, len(pks), _CHUNK):
            chunk = pks[start : start + _CHUNK]
            for run_pk, key, value in conn.execute(
                select(s.params.c.run_id, s.params.c.key, s.params.c.value).where(s.params.c.run_id.in_(chunk))
            ):
                params.setdefault(run_pk, {})[key] = value
            for run_pk, key, value in conn.execute(
                select(s.tags.c.run_id, s.tags.c.key, s.tags.c.value).where(s.tags.c.run_id.in_(chunk))
            ):
                tags.setdefault(run_pk, {})[key] = value
            metrics.update(self.metrics.latest(conn, chunk))
            inputs.update(_load_inputs(conn, chunk))
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


def _load_inputs(conn: Connection, pks: Sequence[int]) -> dict[int, list[DatasetInput]]:
    i, d, t = s.inputs.c, s.datasets.c, s.input_tags.c
    rows = conn.execute(
        select(i.id, i.run_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile)
        .join(s.datasets, d.id == i.dataset_id)
        .where(i.run_id.in_(pks))
        .order_by(i.id)
    ).all()
    if not rows:
        return {}
    tags: dict[int, list[InputTag]] = {}
    for input_pk, name, value in conn.execute(
        select(t.input_id, t.name, t.value).where(t.input_id.in_([r[0] for r in rows]))
    ):
        tags.setdefault(input_pk, []).append(InputTag(name, value))
    out: dict[int, list[DatasetInput]] = {}
    for input_pk, run_pk, name, digest, source_type, source, schema, profile in rows:
        out.setdefault(run_pk, []).append(
            DatasetInput(Dataset(name, digest, source_type, source, schema, profile), tags.get(input_pk, []))
        )
    return out
