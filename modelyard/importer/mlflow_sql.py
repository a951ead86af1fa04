"""Read an MLflow installation straight from its database (SQLAlchemy Core) and artifact root."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from ..artifacts import ArtifactRepository, get_repository
from ..entities import (
    Dataset,
    DatasetInput,
    Experiment,
    InputTag,
    LoggedModelInput,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
)
from ..entities.logged_models import LoggedModel
from ..entities.registry import ModelVersion, RegisteredModel
from ..errors import InvalidParameterValue
from ..extras import require
from .source import MlflowSource, model_id_of

_DELETED_VERSION = "Deleted_Internal"  # MLflow's soft-deleted model versions
_LOGGED_MODEL_STATUS = {"1": "PENDING", "2": "READY", "3": "FAILED"}  # MLflow stores the enum's number


class SqlSource(MlflowSource):
    """MLflow's tables (``experiments``, ``runs``, ``metrics``, ``model_versions``, …), read only."""

    def __init__(self, db_uri: str, artifact_root: str | None) -> None:
        if db_uri.startswith("postgresql://"):
            db_uri = "postgresql+psycopg://" + db_uri[len("postgresql://"):]
        if db_uri.startswith("postgresql+psycopg://"):
            require("psycopg", "A postgresql:// MLflow database URI")
        self.engine = sa.create_engine(db_uri)
        self.label = self.engine.url.render_as_string(hide_password=True)
        self.artifact_root = artifact_root
        self.meta = sa.MetaData()
        try:
            self.meta.reflect(self.engine)
        except sa.exc.SQLAlchemyError as exc:
            raise InvalidParameterValue(f"Cannot read the MLflow database {self.label}: {type(exc).__name__}.") from exc
        if "runs" not in self.meta.tables or "experiments" not in self.meta.tables:
            raise InvalidParameterValue(
                f"{self.label} holds no MLflow tracking tables (experiments, runs): give the database MLflow writes to."
            )

    def _t(self, name: str) -> sa.Table:
        return self.meta.tables[name]

    def _rows(self, query: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def _tags(self, table: str, owner: str, key: str = "key", value: str = "value") -> dict[Any, dict[str, str]]:
        if table not in self.meta.tables:
            return {}
        t = self._t(table)
        out: dict[Any, dict[str, str]] = defaultdict(dict)
        for row in self._rows(sa.select(t.c[owner], t.c[key], t.c[value])):
            out[row[0]][row[1]] = row[2] if row[2] is not None else ""
        return out

    # ---- tracking ---------------------------------------------------------------

    def experiments(self) -> list[Experiment]:
        t = self._t("experiments")
        tags = self._tags("experiment_tags", "experiment_id")
        return [
            Experiment(str(r.experiment_id), r.name, r.artifact_location or "", r.lifecycle_stage,
                       r.creation_time, r.last_update_time, tags.get(r.experiment_id, {}))
            for r in self._rows(sa.select(t).order_by(t.c.experiment_id))
        ]

    def runs(self, experiment_id: str) -> Iterator[Run]:
        t = self._t("runs")
        exp = int(experiment_id)
        rows = self._rows(sa.select(t).where(t.c.experiment_id == exp).order_by(t.c.start_time, t.c.run_uuid))
        in_exp = sa.select(t.c.run_uuid).where(t.c.experiment_id == exp).scalar_subquery()
        params = self._by_run("params", in_exp)
        tags = self._by_run("tags", in_exp)
        latest = self._by_run("latest_metrics", in_exp)
        datasets, models = self._inputs(exp)
        for r in rows:
            info = RunInfo(r.run_uuid, experiment_id, r.name or tags[r.run_uuid].get("mlflow.runName", ""),
                           r.user_id or "", r.status, r.start_time, r.end_time, r.artifact_uri or "", r.lifecycle_stage)
            data = RunData(metrics=latest[r.run_uuid], params=params[r.run_uuid], tags=tags[r.run_uuid])
            yield Run(info, data, RunInputs(datasets[r.run_uuid], models[r.run_uuid]))

    def _by_run(self, table: str, runs: Any) -> dict[str, dict[str, Any]]:
        t = self._t(table)
        out: dict[str, dict[str, Any]] = defaultdict(dict)
        for row in self._rows(sa.select(t.c.run_uuid, t.c.key, t.c.value).where(t.c.run_uuid.in_(runs))):
            out[row[0]][row[1]] = row[2]
        return out

    def _inputs(self, exp: int) -> tuple[dict[str, list[DatasetInput]], dict[str, list[LoggedModelInput]]]:
        datasets: dict[str, list[DatasetInput]] = defaultdict(list)
        models: dict[str, list[LoggedModelInput]] = defaultdict(list)
        if "inputs" not in self.meta.tables:
            return datasets, models
        i, d = self._t("inputs"), self._t("datasets")
        input_tags = self._tags("input_tags", "input_uuid", "name", "value")
        query = (sa.select(i.c.input_uuid, i.c.destination_id, d).join(d, d.c.dataset_uuid == i.c.source_id)
                 .where(i.c.source_type == "DATASET", i.c.destination_type == "RUN", d.c.experiment_id == exp)
                 .order_by(i.c.input_uuid))
        for r in self._rows(query):
            ds = Dataset(r.name, r.digest, r.dataset_source_type, r.dataset_source, r.dataset_schema, r.dataset_profile)
            tags = [InputTag(k, v) for k, v in input_tags.get(r.input_uuid, {}).items()]
            datasets[r.destination_id].append(DatasetInput(ds, tags))
        runs = self._t("runs")
        in_exp = sa.select(runs.c.run_uuid).where(runs.c.experiment_id == exp).scalar_subquery()
        query = sa.select(i.c.source_id, i.c.destination_id).where(
            i.c.source_type == "RUN_INPUT", i.c.destination_type == "MODEL_INPUT", i.c.source_id.in_(in_exp))
        for run_id, model_id in self._rows(query):
            models[run_id].append(LoggedModelInput(model_id))
        return datasets, models

    def metrics(self, run: Run) -> list[Metric]:
        t = self._t("metrics")
        query = (sa.select(t.c.key, t.c.value, t.c.timestamp, t.c.step, t.c.is_nan)
                 .where(t.c.run_uuid == run.info.run_id).order_by(t.c.key, t.c.step, t.c.timestamp))
        return [Metric(k, float("nan") if nan else v, ts, step) for k, v, ts, step, nan in self._rows(query)]

    def logged_models(self, experiment_id: str) -> list[LoggedModel]:
        if "logged_models" not in self.meta.tables:
            return []
        t = self._t("logged_models")
        tags = self._tags("logged_model_tags", "model_id", "tag_key", "tag_value")
        params = self._tags("logged_model_params", "model_id", "param_key", "param_value")
        query = sa.select(t).where(t.c.experiment_id == int(experiment_id)).order_by(t.c.creation_timestamp_ms)
        return [
            LoggedModel(r.model_id, experiment_id, r.name, r.artifact_location, r.creation_timestamp_ms,
                        r.last_updated_timestamp_ms, _LOGGED_MODEL_STATUS.get(str(r.status), str(r.status)),
                        r.lifecycle_stage, r.model_type, r.source_run_id, r.status_message,
                        tags.get(r.model_id, {}), params.get(r.model_id, {}))
            for r in self._rows(query)
        ]

    # ---- registry ---------------------------------------------------------------

    def registered_models(self) -> list[RegisteredModel]:
        if "registered_models" not in self.meta.tables:
            return []
        t = self._t("registered_models")
        tags = self._tags("registered_model_tags", "name")
        aliases = self._tags("registered_model_aliases", "name", "alias", "version")
        return [
            RegisteredModel(r.name, r.creation_time, r.last_updated_time, r.description,
                            tags=tags.get(r.name, {}), aliases={k: str(v) for k, v in aliases.get(r.name, {}).items()})
            for r in self._rows(sa.select(t).order_by(t.c.name))
        ]

    def model_versions(self, name: str) -> list[ModelVersion]:
        t, tt = self._t("model_versions"), self._t("model_version_tags")
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        for version, key, value in self._rows(sa.select(tt.c.version, tt.c.key, tt.c.value).where(tt.c.name == name)):
            tags[version][key] = value or ""
        query = sa.select(t).where(t.c.name == name, t.c.current_stage != _DELETED_VERSION).order_by(t.c.version)
        return [
            ModelVersion(name, str(r.version), r.creation_time, r.last_updated_time, r.description, r.user_id,
                         r.current_stage, r.source, r.run_id, r.status, r.status_message, tags[r.version],
                         r.run_link, model_id=model_id_of(r.source))
            for r in self._rows(query)
        ]

    # ---- artifacts --------------------------------------------------------------

    def artifacts(self, artifact_uri: str) -> ArtifactRepository:
        """``mlflow-artifacts:/x`` under ``--source-artifacts``; any other location (path, file:, s3:) as written."""
        if artifact_uri.startswith("mlflow-artifacts:"):
            if not self.artifact_root:
                raise InvalidParameterValue(
                    f"Artifacts at {artifact_uri!r} live under the MLflow server's artifact root: "
                    "give it with --source-artifacts PATH_OR_URI.")
            rest = artifact_uri[len("mlflow-artifacts:"):].lstrip("/")
            if artifact_uri.startswith("mlflow-artifacts://"):
                rest = rest.split("/", 1)[1] if "/" in rest else ""
            return get_repository(_join(self.artifact_root, rest))
        if self.artifact_root and not artifact_uri.startswith(("s3://", "gs://")):
            local = artifact_uri[len("file://"):] if artifact_uri.startswith("file://") else artifact_uri
            if not os.path.exists(local) and not os.path.isabs(local):
                return get_repository(_join(self.artifact_root, local))
        return get_repository(artifact_uri)

    def close(self) -> None:
        self.engine.dispose()


def _join(root: str, rest: str) -> str:
    return root.rstrip("/") + "/" + rest if rest else root
