"""Experiments and their tags in SQL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

from sqlalchemy import Connection, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..entities import Experiment, LifecycleStage
from ..errors import ResourceAlreadyExists
from . import schema as s
from .database import Database, Tx
from .workspaces import scope

_COLUMNS = (
    s.experiments.c.experiment_id,
    s.experiments.c.name,
    s.experiments.c.artifact_location,
    s.experiments.c.lifecycle_stage,
    s.experiments.c.creation_time,
    s.experiments.c.last_update_time,
)


class ExperimentStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        name: str,
        artifact_location: Callable[[int], str] | str,
        tags: dict[str, str],
        now: int,
        experiment_id: int | None = None,
        workspace: str = "default",
    ) -> str:
        """Insert an experiment; ``artifact_location`` may depend on the new id."""
        values = {
            "name": name,
            "workspace": workspace,
            "artifact_location": "",
            "lifecycle_stage": LifecycleStage.ACTIVE,
            "creation_time": now,
            "last_update_time": now,
        }
        if experiment_id is not None:
            values["experiment_id"] = experiment_id
        try:
            with self.db.write() as conn:
                new_id = conn.execute(insert(s.experiments).values(values)).inserted_primary_key[0]  # type: ignore[index]
                location = artifact_location(new_id) if callable(artifact_location) else artifact_location
                conn.execute(
                    update(s.experiments)
                    .where(s.experiments.c.experiment_id == new_id)
                    .values(artifact_location=location)
                )
                if tags:
                    conn.execute(
                        insert(s.experiment_tags),
                        [{"experiment_id": new_id, "key": k, "value": v} for k, v in tags.items()],
                    )
        except IntegrityError as exc:
            raise ResourceAlreadyExists(f"Experiment(name={name}) already exists.") from exc
        return str(new_id)

    def brief(self, tx: Tx, experiment_id: int) -> tuple[int, str, str] | None:
        """(id, lifecycle_stage, artifact_location): what creating a run needs, one query."""
        return cast("tuple[int, str, str] | None", tx.one(
            self.db.sql(
                "SELECT experiment_id, lifecycle_stage, artifact_location FROM experiments WHERE experiment_id = ?"
            ),
            (experiment_id,),
        ))

    def get(self, experiment_id: int) -> Experiment | None:
        with self.db.read() as conn:
            found = self._load(conn, s.experiments.c.experiment_id == experiment_id)
        return found[0] if found else None

    def get_by_name(self, name: str) -> Experiment | None:
        with self.db.read() as conn:
            found = self._load(conn, and_(s.experiments.c.name == name, s.experiments.c.workspace == scope()))
        return found[0] if found else None

    def get_many(self, conn: Connection, ids: Sequence[int]) -> list[Experiment]:
        by_id = {int(e.experiment_id): e for e in self._load(conn, s.experiments.c.experiment_id.in_(ids))}
        return [by_id[i] for i in ids if i in by_id]

    def search(self, query: object) -> list[Experiment]:
        """Run a select of experiment ids (from ``store.search``) and load them in order."""
        with self.db.read() as conn:
            ids = [row[0] for row in conn.execute(query)]  # type: ignore[call-overload]
            return self.get_many(conn, ids)

    def _load(self, conn: Connection, where: object) -> list[Experiment]:
        rows = conn.execute(select(*_COLUMNS).where(where)).all()  # type: ignore[arg-type]
        if not rows:
            return []
        ids = [r.experiment_id for r in rows]
        tag_rows = conn.execute(
            select(s.experiment_tags).where(s.experiment_tags.c.experiment_id.in_(ids))
        ).all()
        tags: dict[int, dict[str, str]] = {}
        for t in tag_rows:
            tags.setdefault(t.experiment_id, {})[t.key] = t.value
        return [
            Experiment(
                experiment_id=str(r.experiment_id),
                name=r.name,
                artifact_location=r.artifact_location,
                lifecycle_stage=r.lifecycle_stage,
                creation_time=r.creation_time,
                last_update_time=r.last_update_time,
                tags=tags.get(r.experiment_id, {}),
            )
            for r in rows
        ]

    def rename(self, experiment_id: int, name: str, now: int) -> None:
        try:
            with self.db.write() as conn:
                conn.execute(
                    update(s.experiments)
                    .where(s.experiments.c.experiment_id == experiment_id)
                    .values(name=name, last_update_time=now)
                )
        except IntegrityError as exc:
            raise ResourceAlreadyExists(f"Experiment(name={name}) already exists.") from exc

    def set_lifecycle(self, experiment_id: int, stage: str, now: int) -> None:
        """Delete or restore an experiment (its runs: ``RunStore.set_lifecycle_of_experiment``)."""
        with self.db.write() as conn:
            conn.execute(
                update(s.experiments)
                .where(s.experiments.c.experiment_id == experiment_id)
                .values(lifecycle_stage=stage, last_update_time=now)
            )

    def set_tag(self, experiment_id: int, key: str, value: str, now: int) -> None:
        with self.db.write() as conn:
            conn.exec_driver_sql(
                self.db.upsert("experiment_tags", ("experiment_id", "key", "value"), ("experiment_id", "key")),
                (experiment_id, key, value),
            )
            conn.execute(
                update(s.experiments)
                .where(s.experiments.c.experiment_id == experiment_id)
                .values(last_update_time=now)
            )

    def delete_tag(self, experiment_id: int, key: str) -> int:
        with self.db.write() as conn:
            result = conn.execute(
                delete(s.experiment_tags).where(
                    s.experiment_tags.c.experiment_id == experiment_id, s.experiment_tags.c.key == key
                )
            )
            return result.rowcount
