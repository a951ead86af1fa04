"""MLflow 3 logged models: create, finalize, search, tags, params, metrics, run outputs.

A logged model belongs to an experiment and keeps its files under
``<experiment artifact location>/models/<model_id>/artifacts``, as MLflow does.
It is created ``PENDING`` and finalized ``READY`` or ``FAILED``. Params are
write-once, tags mutable; registering a version from a model adds it to the
model's ``mlflow.modelVersions`` tag. Metrics logged to a run with a ``model_id`` are
linked to that model as well; ``runs/outputs`` records which models a run made.

Deleting a model is soft (``lifecycle_stage = deleted``) and idempotent; a
deleted model is "not found" for every other call unless ``allow_deleted``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from ..entities import LifecycleStage, Metric, PagedList
from ..entities.logged_models import LoggedModel, LoggedModelOutput, LoggedModelStatus
from ..entities.metric_columns import MetricColumns
from ..errors import InvalidParameterValue, ResourceDoesNotExist
from ..store import TrackingStore
from ..store.logged_models import LinkedMetric, ModelRow
from . import limits
from .experiments import ExperimentService, now_ms
from .logged_models_search import (
    PageToken,
    parse_datasets,
    parse_model_filter,
    parse_model_order_by,
)
from .names import random_run_name
from .runs import RunService

MODEL_VERSIONS_TAG = "mlflow.modelVersions"  # the registered versions made from a model, as JSON
MAX_RESULTS_SEARCH_LOGGED_MODELS = 50_000
DEFAULT_MAX_RESULTS = 100
MAX_MODEL_NAME_LENGTH = 500
MAX_MODEL_TYPE_LENGTH = 500
_BAD_NAME_CHARS = ("/", ":", ".", "%", '"', "'")


def not_found(model_id: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Logged model with ID '{model_id}' not found.")


class LoggedModelService:
    def __init__(self, store: TrackingStore, experiments: ExperimentService, runs: RunService) -> None:
        self.store = store
        self.experiments = experiments
        self.runs = runs

    # ---- lifecycle ------------------------------------------------------------

    def create(
        self,
        experiment_id: str | int | None,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        """A new ``PENDING`` model in an active experiment; a random name when none is given."""
        if experiment_id is None or experiment_id == "":
            raise InvalidParameterValue(limits.missing_value("experiment_id"))
        exp = self.experiments.get_active(experiment_id)
        if name is not None and name != "":
            if any(c in name for c in _BAD_NAME_CHARS):
                raise InvalidParameterValue(
                    f"Invalid model name ({name!r}) provided. Model name must be a non-empty string "
                    f"and cannot contain the following characters: {_BAD_NAME_CHARS}")
            limits.check_length("name", name, MAX_MODEL_NAME_LENGTH)
        limits.check_length("model_type", model_type, MAX_MODEL_TYPE_LENGTH)
        tags, params = dict(tags or {}), dict(params or {})
        _check_tags(tags)
        _check_params(params)
        if source_run_id:
            self.runs.get(source_run_id)  # 404 for an unknown run
        model_id = f"m-{uuid.uuid4().hex}"
        now = now_ms()
        model = LoggedModel(
            model_id=model_id,
            experiment_id=exp.experiment_id,
            name=name or random_run_name(),
            artifact_location=f"{exp.artifact_location}/models/{model_id}/artifacts",
            creation_timestamp=now,
            last_updated_timestamp=now,
            status=LoggedModelStatus.PENDING,
            model_type=model_type or None,
            source_run_id=source_run_id or None,
            tags=tags,
            params=params,
        )
        self.store.logged_models.create(model)
        return self.get(model_id)

    def get(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        if not model_id:
            raise InvalidParameterValue(limits.missing_value("model_id"))
        model = self.store.logged_models.get(model_id)
        if model is None or (model.lifecycle_stage != LifecycleStage.ACTIVE and not allow_deleted):
            raise not_found(model_id)
        return model

    def _row(self, conn: Any, model_id: str, *, allow_deleted: bool = False) -> ModelRow:
        if not model_id:
            raise InvalidParameterValue(limits.missing_value("model_id"))
        row = self.store.logged_models.row(conn, model_id)
        if row is None or (row.lifecycle_stage != LifecycleStage.ACTIVE and not allow_deleted):
            raise not_found(model_id)
        return row

    def finalize(self, model_id: str, status: Any) -> LoggedModel:
        """Mark the model ``READY`` (files complete) or ``FAILED`` (upload failed)."""
        if status is None or status == "":
            raise InvalidParameterValue(limits.missing_value("status"))
        parsed = LoggedModelStatus.parse(status)
        if parsed not in LoggedModelStatus.FINAL:
            raise InvalidParameterValue(
                f"Cannot finalize a logged model with status {LoggedModelStatus.to_wire(parsed)}: "
                "use LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED.")
        with self.store.db.write() as conn:
            row = self._row(conn, model_id)
            self.store.logged_models.update(conn, row.pk, now_ms(), status=parsed)
        return self.get(model_id)

    def delete(self, model_id: str) -> None:
        with self.store.db.write() as conn:
            row = self._row(conn, model_id, allow_deleted=True)
            if row.lifecycle_stage != LifecycleStage.DELETED:
                self.store.logged_models.update(conn, row.pk, now_ms(), lifecycle_stage=LifecycleStage.DELETED)

    # ---- tags and params ------------------------------------------------------

    def set_tags(self, model_id: str, tags: dict[str, str]) -> None:
        _check_tags(tags)
        with self.store.db.write() as conn:
            row = self._row(conn, model_id)
            self.store.logged_models.set_tags(conn, row.pk, tags)
            self.store.logged_models.update(conn, row.pk, now_ms())

    def record_model_version(self, model_id: str, name: str, version: int) -> None:
        """Add ``{"name", "version"}`` to the model's ``mlflow.modelVersions`` tag, as MLflow's server does.

        The tag is a JSON list, each version once; a model that no longer exists is left alone.
        """
        with self.store.db.write() as conn:
            row = self.store.logged_models.row(conn, model_id)
            if row is None:
                return
            self.store.logged_models.update(conn, row.pk, now_ms())  # locks the row: concurrent registrations queue
            entry = {"name": name, "version": version}
            try:
                versions = json.loads(self.store.logged_models.tag(conn, row.pk, MODEL_VERSIONS_TAG) or "[]")
            except ValueError:
                versions = []
            if not isinstance(versions, list):
                versions = []
            if entry not in versions:
                versions.append(entry)
            self.store.logged_models.set_tags(conn, row.pk, {MODEL_VERSIONS_TAG: json.dumps(versions)})

    def delete_tag(self, model_id: str, key: str) -> None:
        with self.store.db.write() as conn:
            row = self._row(conn, model_id)
            if not self.store.logged_models.delete_tag(conn, row.pk, key):
                raise ResourceDoesNotExist(f"No tag with key {key!r} found for model with ID {model_id!r}.")
            self.store.logged_models.update(conn, row.pk, now_ms())

    def log_params(self, model_id: str, params: dict[str, str]) -> None:
        _check_params(params)
        with self.store.db.write() as conn:
            row = self._row(conn, model_id)
            self.store.logged_models.log_params(conn, row.pk, params, model_id)
            self.store.logged_models.update(conn, row.pk, now_ms())

    # ---- runs: linked metrics and outputs -------------------------------------

    def check_links(self, metrics: Sequence[Metric]) -> list[Metric]:
        """The points that carry a ``model_id``, each checked (before anything is written)."""
        if isinstance(metrics, MetricColumns):
            return []  # columnar batches carry no model ids
        linked = [m for m in metrics if m.model_id]
        for i, m in enumerate(linked):
            limits.check_metric(m, f"metrics[{i}]" if len(linked) > 1 else "")
            limits.check_length("dataset_name", m.dataset_name, limits.MAX_DATASET_NAME_SIZE)
            limits.check_length("dataset_digest", m.dataset_digest, limits.MAX_DATASET_DIGEST_SIZE)
            if (m.dataset_name is None) != (m.dataset_digest is None):
                raise InvalidParameterValue(
                    f"Metric '{m.key}': both dataset_name and dataset_digest must be provided if one is provided.")
        return linked

    def link_metrics(self, run_id: str, metrics: Sequence[Metric]) -> None:
        """Link the points that carry a ``model_id`` to their models (the run keeps them too: the runs
        service calls this inside ``log_batch``/``log_metric``, in their transaction)."""
        linked = self.check_links(metrics)
        if not linked:
            return
        with self.store.db.write() as conn:
            run_pk = self._active_run(conn, run_id)
            models = self._rows(conn, {m.model_id for m in linked})  # type: ignore[misc]
            points = [LinkedMetric(models[m.model_id].pk, run_pk, m) for m in linked]  # type: ignore[index]
            self.store.logged_models.write_metrics(conn, points)

    def _active_run(self, conn: Any, run_id: str) -> int:
        limits.check_run_id(run_id)
        found = self.store.logged_models.run_row(conn, run_id)
        if found is None:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        if found[1] != LifecycleStage.ACTIVE:
            raise InvalidParameterValue(
                f"The run {run_id} must be in the 'active' state. Current state is {found[1]}.")
        return found[0]

    def _rows(self, conn: Any, model_ids: set[str]) -> dict[str, ModelRow]:
        rows = self.store.logged_models.rows(conn, sorted(model_ids))
        for model_id in sorted(model_ids):
            row = rows.get(model_id)
            if row is None or row.lifecycle_stage != LifecycleStage.ACTIVE:
                raise not_found(model_id)
        return rows

    def log_outputs(self, run_id: str, models: Sequence[LoggedModelOutput]) -> None:
        """Record models as outputs of an active run."""
        for i, out in enumerate(models):
            if not out.model_id:
                raise InvalidParameterValue(limits.missing_value(f"models[{i}].model_id"))
            if isinstance(out.step, bool) or not isinstance(out.step, int):
                raise InvalidParameterValue(limits.invalid_value(f"models[{i}].step", out.step, "use an integer."))
        with self.store.db.write() as conn:
            run_pk = self._active_run(conn, run_id)
            rows = self._rows(conn, {o.model_id for o in models})
            self.store.logged_models.log_outputs(conn, run_pk, [(rows[o.model_id].pk, o.step) for o in models])

    def run_outputs(self, run_ids: Sequence[str]) -> dict[str, list[LoggedModelOutput]]:
        """The model outputs of each run that has any, by run id."""
        if not run_ids:
            return {}
        with self.store.db.read() as conn:
            return self.store.logged_models.outputs(conn, list(run_ids))

    # ---- search ---------------------------------------------------------------

    def search(
        self,
        experiment_ids: Sequence[str | int],
        filter_string: str | None = None,
        datasets: list[dict[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: list[dict[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """One page of active models, newest first unless ``order_by`` says otherwise."""
        max_results = DEFAULT_MAX_RESULTS if max_results is None else max_results
        limits.check_max_results(max_results, MAX_RESULTS_SEARCH_LOGGED_MODELS)
        if not experiment_ids:
            raise InvalidParameterValue(limits.missing_value("experiment_ids"))
        ids = [limits.parse_experiment_id(e, "experiment_ids") for e in experiment_ids]
        filters = parse_model_filter(filter_string)
        refs = parse_datasets(datasets)
        order = parse_model_order_by(order_by)
        filter_string = filter_string or None
        normal_order = [
            {"field_name": o.get("field_name"), "ascending": o.get("ascending", True) is not False,
             "dataset_name": o.get("dataset_name") or None, "dataset_digest": o.get("dataset_digest") or None}
            for o in order_by or []
        ] or None
        str_ids = [str(i) for i in ids]
        offset = PageToken.decode(page_token, str_ids, filter_string, normal_order)
        found = self.store.logged_models.search(ids, filters, refs, order, max_results + 1, offset)
        token = None
        if len(found) > max_results:
            token = PageToken.encode(offset + max_results, str_ids, filter_string, normal_order)
        return PagedList(found[:max_results], token)


def _check_tags(tags: dict[str, str]) -> None:
    for i, (key, value) in enumerate(tags.items()):
        limits.check_name(key, f"tags[{i}].key", "Tag")
        if not isinstance(value, str):
            raise InvalidParameterValue(limits.invalid_value(f"tags[{i}].value", value, "Tag values must be strings."))
        limits.check_length(f"tags[{i}].value", value, limits.MAX_TAG_VAL_LENGTH)


def _check_params(params: dict[str, str]) -> None:
    for i, (key, value) in enumerate(params.items()):
        limits.check_name(key, f"params[{i}].key", "Param")
        if not isinstance(value, str):
            raise InvalidParameterValue(limits.invalid_value(f"params[{i}].value", value, "Param values must be strings."))
        limits.check_length(f"params[{i}].value", value, limits.MAX_PARAM_VAL_LENGTH)
