"""Evaluation datasets in SQL: datasets with tags and experiments, and their records, merged by inputs.

Methods take what the service already validated (ids, JSON text, hashes) and raise MLflow's
"not found" error for an unknown dataset. Records are paged by (created_time, record id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, insert, or_, select, update

from ..entities.query import ATTRIBUTE, Comparison, OrderKey
from ..errors import ResourceDoesNotExist
from . import llm_schema as d
from .database import Database
from .search import compare
from .visibility import Visibility, experiment_readable

ds, dt, de, dr = d.eval_datasets, d.eval_dataset_tags, d.eval_dataset_experiments, d.eval_dataset_records


def dataset_not_found(dataset_id: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Evaluation dataset with id '{dataset_id}' not found")


@dataclass
class DatasetRow:
    dataset_id: str
    name: str
    digest: str
    schema: str | None
    profile: str | None
    created_time: int
    last_update_time: int
    created_by: str | None
    last_updated_by: str | None
    tags: dict[str, str] = field(default_factory=dict)
    experiment_ids: list[str] = field(default_factory=list)


_COLUMNS = (ds.c.dataset_id, ds.c.name, ds.c.digest, ds.c.schema, ds.c.profile, ds.c.created_time,
            ds.c.last_update_time, ds.c.created_by, ds.c.last_updated_by)
_RECORD_COLUMNS = ("dataset_record_id", "dataset_id", "inputs", "outputs", "expectations", "tags", "source",
                   "source_id", "source_type", "created_time", "last_update_time", "created_by", "last_updated_by")


class DatasetStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- datasets -------------------------------------------------------------

    def create(self, row: DatasetRow) -> None:
        with self.db.write() as conn:
            conn.execute(insert(ds).values(**{c.name: getattr(row, c.name) for c in _COLUMNS}))
            if row.tags:
                conn.execute(insert(dt), [{"dataset_id": row.dataset_id, "key": k, "value": v}
                                          for k, v in row.tags.items()])
            if row.experiment_ids:
                conn.execute(insert(de), [{"dataset_id": row.dataset_id, "experiment_id": int(e)}
                                          for e in dict.fromkeys(row.experiment_ids)])

    def _load(self, conn: Connection, ids: Sequence[str]) -> list[DatasetRow]:
        if not ids:
            return []
        by_id = {r[0]: DatasetRow(*r) for r in conn.execute(select(*_COLUMNS).where(ds.c.dataset_id.in_(list(ids))))}
        for dataset_id, key, value in conn.execute(select(dt.c.dataset_id, dt.c.key, dt.c.value)
                                                   .where(dt.c.dataset_id.in_(list(ids)))):
            by_id[dataset_id].tags[key] = value
        for dataset_id, exp in conn.execute(select(de.c.dataset_id, de.c.experiment_id)
                                            .where(de.c.dataset_id.in_(list(ids))).order_by(de.c.experiment_id)):
            by_id[dataset_id].experiment_ids.append(str(exp))
        return [by_id[i] for i in ids if i in by_id]

    def get(self, dataset_id: str, conn: Connection | None = None) -> DatasetRow:
        if conn is None:
            with self.db.read() as c:
                return self.get(dataset_id, c)
        found = self._load(conn, [dataset_id])
        if not found:
            raise dataset_not_found(dataset_id)
        return found[0]

    def delete(self, dataset_id: str) -> bool:
        with self.db.write() as conn:
            for table in (dr, dt, de):
                conn.execute(delete(table).where(table.c.dataset_id == dataset_id))
            return bool(conn.execute(delete(ds).where(ds.c.dataset_id == dataset_id)).rowcount)

    def search(self, experiment_ids: Sequence[int], filters: Sequence[Comparison], order_by: Sequence[OrderKey],
               limit: int, offset: int, visible: Visibility | None = None) -> list[DatasetRow]:
        """A page of datasets (``visible``: only those the caller may read: a dataset is its first experiment's,
        one in no experiment the server's)."""
        query = select(ds.c.dataset_id)
        if visible is not None:
            first = (select(func.min(de.c.experiment_id)).where(de.c.dataset_id == ds.c.dataset_id)
                     .correlate_except(de).scalar_subquery())  # to this row, in each EXISTS it sits in
            query = query.where(or_(first.is_(None), experiment_readable(visible, first)))
        if experiment_ids:
            query = query.where(exists().where(de.c.dataset_id == ds.c.dataset_id,
                                               de.c.experiment_id.in_(list(experiment_ids))))
        for f in filters:
            if f.kind == ATTRIBUTE:
                query = query.where(compare(getattr(ds.c, f.key), f.op, f.value, self.db.dialect))
            else:
                query = query.where(exists().where(dt.c.dataset_id == ds.c.dataset_id, dt.c.key == f.key,
                                                   compare(dt.c.value, f.op, f.value, self.db.dialect)))
        keys = list(order_by) or [OrderKey(ATTRIBUTE, "created_time", False)]
        order = [getattr(ds.c, k.key).asc() if k.ascending else getattr(ds.c, k.key).desc() for k in keys]
        query = query.order_by(*order, ds.c.dataset_id.desc()).limit(limit).offset(offset)
        with self.db.read() as conn:
            return self._load(conn, [r[0] for r in conn.execute(query)])

    def set_tags(self, dataset_id: str, tags: dict[str, str]) -> None:
        with self.db.write() as conn:
            self.get(dataset_id, conn)
            for key, value in tags.items():
                conn.execute(delete(dt).where(dt.c.dataset_id == dataset_id, dt.c.key == key))
                conn.execute(insert(dt).values(dataset_id=dataset_id, key=key, value=value))

    def delete_tag(self, dataset_id: str, key: str) -> None:
        with self.db.write() as conn:
            conn.execute(delete(dt).where(dt.c.dataset_id == dataset_id, dt.c.key == key))

    def set_experiments(self, dataset_id: str, add: Sequence[int], remove: Sequence[int]) -> DatasetRow:
        with self.db.write() as conn:
            row = self.get(dataset_id, conn)
            have = {int(e) for e in row.experiment_ids}
            new = [e for e in dict.fromkeys(add) if e not in have]
            if new:
                conn.execute(insert(de), [{"dataset_id": dataset_id, "experiment_id": e} for e in new])
            if remove:
                conn.execute(delete(de).where(de.c.dataset_id == dataset_id, de.c.experiment_id.in_(list(remove))))
            return self.get(dataset_id, conn)

    # ---- records --------------------------------------------------------------

    def records_by_hash(self, conn: Connection, dataset_id: str, hashes: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(hashes), 500):
            chunk = list(hashes[i:i + 500])
            for row in conn.execute(select(dr).where(dr.c.dataset_id == dataset_id, dr.c.input_hash.in_(chunk))):
                out[row.input_hash] = dict(row._mapping)
        return out

    def put_records(self, conn: Connection, new: list[dict[str, Any]], changed: list[dict[str, Any]]) -> None:
        if new:
            conn.execute(insert(dr), new)
        for row in changed:
            conn.execute(update(dr).where(dr.c.dataset_record_id == row["dataset_record_id"]).values(
                outputs=row["outputs"], expectations=row["expectations"], tags=row["tags"],
                last_update_time=row["last_update_time"], last_updated_by=row["last_updated_by"]))

    def touch(self, conn: Connection, dataset_id: str, **values: Any) -> None:
        conn.execute(update(ds).where(ds.c.dataset_id == dataset_id).values(**values))

    def count_records(self, conn: Connection, dataset_id: str) -> int:
        return int(conn.execute(select(func.count()).select_from(dr).where(dr.c.dataset_id == dataset_id)).scalar_one())

    def records(self, dataset_id: str, after: tuple[int, str] | None, limit: int) -> list[dict[str, Any]]:
        query = select(*(getattr(dr.c, c) for c in _RECORD_COLUMNS)).where(dr.c.dataset_id == dataset_id)
        if after is not None:
            query = query.where(or_(dr.c.created_time > after[0],
                                    and_(dr.c.created_time == after[0], dr.c.dataset_record_id > after[1])))
        query = query.order_by(dr.c.created_time, dr.c.dataset_record_id).limit(limit)
        with self.db.read() as conn:
            self.get(dataset_id, conn)
            return [dict(zip(_RECORD_COLUMNS, row, strict=True)) for row in conn.execute(query)]

    def delete_records(self, dataset_id: str, record_ids: Sequence[str]) -> int:
        with self.db.write() as conn:
            self.get(dataset_id, conn)
            n = 0
            for i in range(0, len(record_ids), 500):
                n += conn.execute(delete(dr).where(dr.c.dataset_id == dataset_id,
                                                   dr.c.dataset_record_id.in_(list(record_ids[i:i + 500])))).rowcount
            return n
