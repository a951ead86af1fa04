"""Hard deletes for operating a store: runs and experiments in the ``deleted`` stage, old request-log rows.

What ``modelyard gc`` and the request-log retention remove, in SQL. The rules
(which runs may go, their artifacts first, registered model versions kept
working) live in :mod:`modelyard.service.gc`; this module only finds rows and
deletes them (a run's rows are deleted by :meth:`.runs.RunStore.purge`, the only
writer of ``runs``). Every purge runs in one write transaction and re-checks, under
the write lock, that what it deletes is still deleted (a run restored in the
meantime is left alone). Child rows are deleted explicitly, not through
``ON DELETE CASCADE``, so a database whose foreign keys are not enforced
(SQLite without the pragma) is cleaned as well.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, text

from ..entities import LifecycleStage
from .database import Database

DELETED = LifecycleStage.DELETED
CHUNK = 500  # ids per IN (...) list: far below SQLite's 32,766 bound variables and PostgreSQL's 65,535


class DeletedRun(NamedTuple):
    """A run in the ``deleted`` stage (or in a deleted experiment), as gc sees it."""

    pk: int
    run_id: str
    experiment_id: int
    artifact_uri: str | None
    deleted_time: int | None


class DeletedExperiment(NamedTuple):
    experiment_id: int
    name: str
    artifact_location: str
    last_update_time: int | None


class VersionSource(NamedTuple):
    """Where a registered model version's files are: what gc must not take from under it."""

    name: str
    version: int
    run_id: str | None
    model_id: str | None
    location: str  # storage_location, else source


class LoggedModelRow(NamedTuple):
    pk: int
    model_id: str
    experiment_id: int
    artifact_location: str


_LOGGED_MODEL_CHILDREN = ("logged_model_tags", "logged_model_params", "logged_model_metrics", "run_outputs",
                          "run_model_inputs")


class Maintenance:
    """The purges of one database (``store.db``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- what is there to collect ---------------------------------------------------------

    def deleted_runs(self, deleted_before_ms: int | None = None) -> list[DeletedRun]:
        """Runs in the ``deleted`` stage (deleted before ``deleted_before_ms`` when given), oldest first."""
        sql = ("SELECT id, run_uuid, experiment_id, artifact_uri, deleted_time FROM runs"
               " WHERE lifecycle_stage = :stage")
        if deleted_before_ms is not None:
            sql += " AND deleted_time < :before"
        with self.db.read() as conn:
            rows = conn.execute(text(sql + " ORDER BY id"), {"stage": DELETED, "before": deleted_before_ms})
            return [DeletedRun(*r) for r in rows]

    def runs_by_id(self, run_ids: Sequence[str]) -> dict[str, tuple[DeletedRun, str]]:
        """``run_id -> (run, lifecycle stage)`` of the runs that exist among ``run_ids``."""
        out: dict[str, tuple[DeletedRun, str]] = {}
        query = text("SELECT id, run_uuid, experiment_id, artifact_uri, deleted_time, lifecycle_stage FROM runs"
                     " WHERE run_uuid IN :ids").bindparams(bindparam("ids", expanding=True))
        with self.db.read() as conn:
            for chunk in _chunks(list(run_ids)):
                for r in conn.execute(query, {"ids": chunk}):
                    out[r[1]] = (DeletedRun(*r[:5]), r[5])
        return out

    def runs_of_experiments(self, experiment_ids: Sequence[int]) -> list[DeletedRun]:
        """Every run of these experiments, whatever its stage (a deleted experiment's runs go with it)."""
        query = text("SELECT id, run_uuid, experiment_id, artifact_uri, deleted_time FROM runs"
                     " WHERE experiment_id IN :ids ORDER BY id").bindparams(bindparam("ids", expanding=True))
        out: list[DeletedRun] = []
        with self.db.read() as conn:
            for chunk in _chunks(list(experiment_ids)):
                out += [DeletedRun(*r) for r in conn.execute(query, {"ids": chunk})]
        return out

    def deleted_experiments(self, updated_before_ms: int | None = None) -> list[DeletedExperiment]:
        sql = ("SELECT experiment_id, name, artifact_location, last_update_time FROM experiments"
               " WHERE lifecycle_stage = :stage")
        if updated_before_ms is not None:
            sql += " AND last_update_time < :before"
        with self.db.read() as conn:
            rows = conn.execute(text(sql + " ORDER BY experiment_id"), {"stage": DELETED, "before": updated_before_ms})
            return [DeletedExperiment(*r) for r in rows]

    def experiments_by_id(self, experiment_ids: Sequence[int]) -> dict[int, tuple[DeletedExperiment, str]]:
        query = text("SELECT experiment_id, name, artifact_location, last_update_time, lifecycle_stage"
                     " FROM experiments WHERE experiment_id IN :ids").bindparams(bindparam("ids", expanding=True))
        out: dict[int, tuple[DeletedExperiment, str]] = {}
        with self.db.read() as conn:
            for chunk in _chunks(list(experiment_ids)):
                for r in conn.execute(query, {"ids": chunk}):
                    out[int(r[0])] = (DeletedExperiment(*r[:4]), r[4])
        return out

    def logged_models_of(self, experiment_ids: Sequence[int]) -> list[LoggedModelRow]:
        query = text("SELECT id, model_id, experiment_id, artifact_location FROM logged_models"
                     " WHERE experiment_id IN :ids ORDER BY id").bindparams(bindparam("ids", expanding=True))
        out: list[LoggedModelRow] = []
        with self.db.read() as conn:
            for chunk in _chunks(list(experiment_ids)):
                out += [LoggedModelRow(*r) for r in conn.execute(query, {"ids": chunk})]
        return out

    def version_sources(self) -> list[VersionSource]:
        """Every registered model version's name, number, run, logged model and file location."""
        with self.db.read() as conn:
            rows = conn.execute(text(
                "SELECT m.name, v.version, v.run_id, v.model_id, COALESCE(v.storage_location, v.source, '')"
                " FROM model_versions v JOIN registered_models m ON m.id = v.registered_model_id"
                " ORDER BY m.name, v.version"))
            return [VersionSource(*r) for r in rows]

    # ---- purges ---------------------------------------------------------------------------

    def purge_experiment(self, experiment_id: int) -> Counter[str] | None:
        """Delete a deleted experiment with its logged models, datasets and tags (its runs must be gone).

        None (and nothing deleted) if it is no longer deleted or still has runs.
        """
        params = {"id": experiment_id, "stage": DELETED}
        with self.db.write() as conn:
            if conn.execute(text("SELECT 1 FROM experiments WHERE experiment_id = :id AND lifecycle_stage = :stage"),
                            params).first() is None:
                return None
            if conn.execute(text("SELECT 1 FROM runs WHERE experiment_id = :id"), params).first() is not None:
                return None
            counts: Counter[str] = Counter()
            models = "SELECT id FROM logged_models WHERE experiment_id = :id"
            for table in _LOGGED_MODEL_CHILDREN:
                counts[table] += _delete(conn, table, f"model_id IN ({models})", params)
            counts["logged_models"] += _delete(conn, "logged_models", "experiment_id = :id", params)
            counts["datasets"] += _delete(conn, "datasets", "experiment_id = :id", params)
            counts["experiment_tags"] += _delete(conn, "experiment_tags", "experiment_id = :id", params)
            counts["experiments"] += _delete(conn, "experiments", "experiment_id = :id", params)
            return +counts

    # ---- request log --------------------------------------------------------------------

    def purge_request_log(self, before_ms: int, batch: int = 5_000) -> tuple[int, int]:
        """Delete served requests and feedback older than ``before_ms``; (requests, feedback) deleted.

        In transactions of at most ``batch`` rows, so a writer waits at most for one of them.
        """
        totals = [0, 0]
        for i, (table, key) in enumerate((("inference_requests", "id"), ("inference_feedback", "request_id"))):
            sql = text(f"DELETE FROM {table} WHERE {key} IN"
                       f" (SELECT {key} FROM {table} WHERE timestamp_ms < :before LIMIT :batch)")
            while True:
                with self.db.write() as conn:
                    done = conn.execute(sql, {"before": before_ms, "batch": batch}).rowcount
                totals[i] += done
                if done < batch:
                    break
        return totals[0], totals[1]


def _delete(conn: Connection, table: str, where: str, params: Mapping[str, object], expanding: str = "") -> int:
    statement = text(f"DELETE FROM {table} WHERE {where}")  # noqa: S608  (table names are ours)
    if expanding:
        statement = statement.bindparams(bindparam(expanding, expanding=True))
    return int(conn.execute(statement, params).rowcount or 0)


def _chunks(values: list[object]) -> list[list[object]]:
    return [values[i:i + CHUNK] for i in range(0, len(values), CHUNK)]
