"""Run rules: lifecycle, logging limits, history, search."""

from __future__ import annotations

import functools
import getpass
import itertools
import math
import operator
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..entities import (
    DatasetInput,
    LifecycleStage,
    LoggedModelInput,
    Metric,
    PagedList,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunStatus,
    RunTag,
    ViewType,
)
from ..entities.wire import metric_history_dicts, run_dicts
from ..errors import InvalidParameterValue, ResourceDoesNotExist
from ..store import RunRow, TrackingStore
from ..store.database import Tx
from . import limits
from .experiments import ExperimentService, now_ms
from .names import random_run_name
from .search import (
    decode_page_token,
    encode_page_token,
    parse_run_filter,
    parse_run_order_by,
)

RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"
MAX_BULK_INTERVAL_RUNS = 100
MAX_BULK_INTERVAL_RESULTS = 2500
MAX_SEARCH_DATASETS_EXPERIMENTS = 20
MAX_DATASET_SUMMARIES = 1000


# A random (version 4, RFC 4122 variant) UUID's bits: what ``uuid.uuid4().hex`` gives, without the UUID object.
_UUID4_KEEP = 0xFFFFFFFF_FFFF_0FFF_3FFF_FFFFFFFFFFFF
_UUID4_SET = 0x00000000_0000_4000_8000_000000000000


def new_run_id() -> str:
    """A new run's id: a random UUID (version 4) as 32 hex digits, as MLflow's."""
    return "%032x" % (int.from_bytes(os.urandom(16), "big") & _UUID4_KEEP | _UUID4_SET)


@dataclass
class SampledHistory:
    """One run's sampled points of a metric, as columns."""

    run_id: str
    steps: list[int]
    values: list[float | None]
    timestamps: list[int]


class RunService:
    def __init__(self, store: TrackingStore, experiments: ExperimentService) -> None:
        self.store = store
        self.experiments = experiments
        # Links the points that name a logged model to it (``LoggedModelService``: checks them,
        # then writes in the transaction it is called in); set by the TrackingService.
        self.check_model_links: Callable[[Sequence[Metric]], list[Metric]] = lambda metrics: []
        self.link_model_metrics: Callable[[str, Sequence[Metric]], None] | None = None

    # ---- lifecycle ------------------------------------------------------------

    def create(
        self,
        experiment_id: str | int | None = None,
        user_id: str | None = None,
        start_time: int | None = None,
        tags: dict[str, str] | None = None,
        run_name: str | None = None,
    ) -> Run:
        exp_id = limits.parse_experiment_id(0 if experiment_id in (None, "") else experiment_id)
        tags = dict(tags or {})
        for i, (key, value) in enumerate(tags.items()):
            limits.check_tag(RunTag(key, value), f"tags[{i}]")
        tag_name = tags.get(RUN_NAME_TAG)
        if run_name and tag_name and run_name != tag_name:
            raise InvalidParameterValue(
                f"Both 'run_name' argument and '{RUN_NAME_TAG}' tag are specified, but with different "
                f"values (run_name='{run_name}', {RUN_NAME_TAG}='{tag_name}'). Give one name."
            )
        name = run_name or tag_name or random_run_name()
        limits.check_length("run_name", name, limits.MAX_ENTITY_KEY_LENGTH)
        tags[RUN_NAME_TAG] = name
        user = user_id or tags.get(USER_TAG) or _user()
        limits.check_length("user_id" if user_id else f"tags.{USER_TAG}", user, limits.MAX_USER_ID_LENGTH)
        run_id = new_run_id()
        with self.store.db.fast_write() as tx:
            exp = self.store.experiments.brief(tx, exp_id)
            if exp is None:
                raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
            if exp[1] != LifecycleStage.ACTIVE:
                raise InvalidParameterValue(
                    f"The experiment {experiment_id} must be in the 'active' state. Current state is {exp[1]}."
                )
            info = RunInfo(
                run_id=run_id,
                experiment_id=str(exp[0]),
                run_name=name,
                user_id=user,
                status=RunStatus.RUNNING,
                start_time=start_time if start_time is not None else now_ms(),
                end_time=None,
                artifact_uri=f"{exp[2]}/{run_id}/artifacts",
            )
            self.store.runs.create(tx, info, tags)
        return Run(info, RunData(tags=tags), RunInputs())

    def get(self, run_id: str) -> Run:
        return Run.from_dict(self.get_dict(run_id))

    def get_dict(self, run_id: str) -> dict[str, Any]:
        """The run as its MLflow wire dict (``Run.to_dict`` plus ``outputs``)."""
        limits.check_run_id(run_id)
        page = self.store.runs.page_of(run_id)
        if page is None:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        return run_dicts(page)[0]

    def _row(self, tx: Tx, run_id: str) -> RunRow:
        limits.check_run_id(run_id)
        row = self.store.runs.row(tx, run_id)
        if row is None:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        return row

    def _active_row(self, tx: Tx, run_id: str) -> RunRow:
        row = self._row(tx, run_id)
        if row.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidParameterValue(
                f"The run {run_id} must be in the 'active' state. Current state is {row.lifecycle_stage}."
            )
        return row

    def update(
        self, run_id: str, status: str | None = None, end_time: int | None = None, run_name: str | None = None
    ) -> RunInfo:
        if status is not None and status not in RunStatus.ALL:
            raise InvalidParameterValue(
                limits.invalid_value("status", status, f"use one of {', '.join(RunStatus.ALL)}.")
            )
        if run_name is not None:
            limits.check_length("run_name", run_name, limits.MAX_ENTITY_KEY_LENGTH)
        with self.store.db.fast_write() as tx:
            row = self._active_row(tx, run_id)
            self.store.runs.update(tx, row.pk, status, end_time, run_name or None)
        return self.get(run_id).info

    def delete(self, run_id: str) -> None:
        with self.store.db.fast_read() as tx:
            row = self._row(tx, run_id)
        self.store.runs.set_lifecycle(row.pk, LifecycleStage.DELETED, now_ms())

    def restore(self, run_id: str) -> None:
        with self.store.db.fast_read() as tx:
            row = self._row(tx, run_id)
        self.store.runs.set_lifecycle(row.pk, LifecycleStage.ACTIVE, now_ms())

    # ---- logging --------------------------------------------------------------

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        *,
        max_metrics: int = limits.MAX_METRICS_PER_BATCH,
    ) -> None:
        """Validate everything, then write it all in one transaction (or nothing).

        Points that name a logged model (``model_id``) are also linked to it in the same
        transaction: an unknown model stores nothing of the batch.
        """
        limits.check_batch_limits(metrics, params, tags, max_metrics=max_metrics)
        limits.check_batch(metrics, params, tags)
        linked = self.check_model_links(metrics) if metrics else []
        if linked:
            with self.store.db.unit_of_work():
                self._log_batch(run_id, metrics, params, tags)
                self._link(run_id, linked)
        else:
            self._log_batch(run_id, metrics, params, tags)

    def _log_batch(
        self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
    ) -> None:
        if metrics:
            self.store.metrics.ensure_keys({m.key for m in metrics})
        with self.store.db.fast_write() as tx:
            row = self._active_row(tx, run_id)
            self.store.runs.log_batch(tx, row.pk, metrics, params, tags)

    def log_metric(self, run_id: str, metric: Metric) -> None:
        """Log one point (linked to its logged model too if it names one, in the same transaction)."""
        limits.check_metric(metric)
        if metric.model_id:
            linked = self.check_model_links((metric,))
            with self.store.db.unit_of_work():
                self._log_metric(run_id, metric)
                self._link(run_id, linked)
        else:
            self._log_metric(run_id, metric)

    def _log_metric(self, run_id: str, metric: Metric) -> None:
        limits.check_run_id(run_id)
        metrics = self.store.metrics
        metrics.ensure_key(metric.key)
        with self.store.db.fast_write() as tx:
            # The usual case in one statement: an active run, a new point. Otherwise (nothing was inserted)
            # the run is checked as every write checks it, and a point stored already is written as ever.
            if not metrics.write_active(tx, run_id, metric):
                row = self._active_row(tx, run_id)
                metrics.write(tx, row.pk, (metric,))

    def _link(self, run_id: str, linked: Sequence[Metric]) -> None:
        if self.link_model_metrics is None:
            raise RuntimeError("RunService.link_model_metrics is not set: build it through TrackingService")
        self.link_model_metrics(run_id, linked)

    def log_param(self, run_id: str, param: Param) -> None:
        limits.check_param(param)
        with self.store.db.fast_write() as tx:
            row = self._active_row(tx, run_id)
            self.store.runs.log_batch(tx, row.pk, params=(param,))

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        limits.check_tag(tag)
        with self.store.db.fast_write() as tx:
            row = self._active_row(tx, run_id)
            self.store.runs.log_batch(tx, row.pk, tags=(tag,))

    def delete_tag(self, run_id: str, key: str) -> None:
        with self.store.db.fast_write() as tx:
            row = self._active_row(tx, run_id)
            if not self.store.runs.delete_tag(tx, row.pk, key):
                raise ResourceDoesNotExist(f"No tag with name: {key} in run with id {run_id}")

    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput] | None = None, models: Sequence[LoggedModelInput] | None = None
    ) -> None:
        """Record datasets and logged models (active ones, by id) as inputs of an active run, in one transaction."""
        datasets = datasets or ()
        model_ids = [_model_id(m, f"models[{i}].model_id") for i, m in enumerate(models or ())]
        for i, item in enumerate(datasets):
            ds = item.dataset
            path = f"datasets[{i}].dataset"
            for field, value, limit in (
                ("name", ds.name, limits.MAX_DATASET_NAME_SIZE),
                ("digest", ds.digest, limits.MAX_DATASET_DIGEST_SIZE),
                ("source_type", ds.source_type, 36),
                ("source", ds.source, limits.MAX_DATASET_SOURCE_SIZE),
            ):
                if not value:
                    raise InvalidParameterValue(limits.missing_value(f"{path}.{field}"))
                limits.check_length(f"{path}.{field}", value, limit)
            limits.check_length(f"{path}.schema", ds.schema, limits.MAX_DATASET_SCHEMA_SIZE)
            limits.check_length(f"{path}.profile", ds.profile, limits.MAX_DATASET_PROFILE_SIZE)
            for j, tag in enumerate(item.tags):
                if not tag.key:
                    raise InvalidParameterValue(limits.missing_value(f"datasets[{i}].tags[{j}].key"))
                limits.check_length(f"datasets[{i}].tags[{j}].key", tag.key, limits.MAX_INPUT_TAG_KEY_SIZE)
                limits.check_length(f"datasets[{i}].tags[{j}].value", tag.value, limits.MAX_INPUT_TAG_VALUE_SIZE)
        with self.store.db.fast_write() as tx:
            row = self._active_row(tx, run_id)
            missing = self.store.runs.log_model_inputs(tx, row.pk, model_ids)
            if missing:
                raise ResourceDoesNotExist(f"Logged model with ID '{missing[0]}' not found.")
            self.store.runs.log_inputs(tx, row.pk, row.experiment_id, datasets)

    # ---- runs recorded in bulk (pipeline steps) --------------------------------

    def artifact_root(self, experiment_id: str, known: dict[str, str]) -> str:
        """The artifact location of an active experiment, under which its runs' artifacts go
        (``known``: locations already looked up, by experiment id; updated)."""
        found = known.get(experiment_id)
        if found is None:
            exp = self.experiments.get(experiment_id)
            if exp.lifecycle_stage != LifecycleStage.ACTIVE:
                raise InvalidParameterValue(
                    f"The experiment {experiment_id} must be in the 'active' state. Current state is {exp.lifecycle_stage}.")
            found = known[experiment_id] = exp.artifact_location.rstrip("/")
        return found

    def check_recorded(
        self, path: str, tags: dict[str, str], params: dict[str, str], metrics: Sequence[Metric], checked: set[str]
    ) -> None:
        """The logging limits for a run recorded by :meth:`record_many`, errors naming ``path``
        (``checked``: tag and param keys already checked in this batch; updated)."""
        for j, (k, v) in enumerate(tags.items()):
            if k not in checked or len(v) > limits.MAX_TAG_VAL_LENGTH:  # a checked key: only the value's length
                limits.check_tag(RunTag(k, v), f"{path}.tags[{j}]")
                checked.add(k)
        for j, (k, v) in enumerate(params.items()):
            if k not in checked or len(v) > limits.MAX_PARAM_VAL_LENGTH:
                limits.check_param(Param(k, v), f"{path}.params[{j}]")
                checked.add(k)
        for m in metrics:
            limits.check_metric(m)

    def record_many(self, runs: Sequence[dict[str, Any]]) -> None:
        """Create or update many runs (checked with :meth:`check_recorded`) with their tags, params
        and metrics in one transaction: see ``RunStore.record_many``."""
        keys = {m.key for r in runs for m in r.get("metrics") or ()}
        if keys:
            self.store.metrics.ensure_keys(keys)
        with self.store.db.fast_write() as tx:
            self.store.runs.record_many(tx, runs)

    def dataset_summaries(self, experiment_ids: Sequence[str | int]) -> list[dict[str, str]]:
        """The datasets runs used in these experiments, as MLflow's ``search-datasets`` summaries (at most 1000)."""
        if not experiment_ids:
            raise InvalidParameterValue("SearchDatasets request must specify at least one experiment_id.")
        if len(experiment_ids) > MAX_SEARCH_DATASETS_EXPERIMENTS:
            raise InvalidParameterValue(
                f"SearchDatasets request cannot specify more than {MAX_SEARCH_DATASETS_EXPERIMENTS} experiment_ids."
                f" Received {len(experiment_ids)} experiment_ids.")
        ids = [limits.parse_experiment_id(e, f"experiment_ids[{i}]") for i, e in enumerate(experiment_ids)]
        with self.store.db.fast_read() as tx:
            rows = self.store.runs.dataset_summaries(tx, sorted(set(ids)), MAX_DATASET_SUMMARIES)
        out = []
        for experiment_id, name, digest, context in rows:
            summary = {"experiment_id": str(experiment_id), "name": name, "digest": digest}
            if context is not None:
                summary["context"] = context
            out.append(summary)
        return out

    # ---- reads ----------------------------------------------------------------

    def metric_history(
        self, run_id: str, key: str, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList:
        """One page of ``key``'s points as :class:`Metric` objects, by step, timestamp and value."""
        return self._history(run_id, key, max_results, page_token, self.store.metrics.history)

    def metric_history_dicts(
        self, run_id: str, key: str, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList:
        """:meth:`metric_history` as MLflow wire dicts (``Metric.to_dict``)."""
        return self._history(run_id, key, max_results, page_token, self._history_dicts)

    def _history_dicts(self, tx: Tx, run_pk: int, key: str, limit: int | None, offset: int) -> list[dict[str, Any]]:
        return metric_history_dicts(key, self.store.metrics.history_rows(tx, run_pk, key, limit, offset))

    def _history(
        self, run_id: str, key: str, max_results: int | None, page_token: str | None, read: Any
    ) -> PagedList:
        if not key:
            raise InvalidParameterValue(limits.missing_value("metric_key"))
        if max_results is not None:
            limits.check_max_results(max_results, limits.MAX_METRIC_HISTORY_PAGE)
        offset = decode_page_token(page_token)
        with self.store.db.fast_read() as tx:
            row = self._row(tx, run_id)
            limit = None if max_results is None else max_results + 1
            points = read(tx, row.pk, key, limit, offset)
        if max_results is not None and len(points) > max_results:
            return PagedList(points[:max_results], encode_page_token(offset + max_results))
        return PagedList(points, None)

    def metric_history_bulk_interval(
        self,
        run_ids: Sequence[str],
        key: str,
        start_step: int | None = None,
        end_step: int | None = None,
        max_results: int | None = None,
    ) -> list[Metric]:
        """Up to ``max_results`` evenly spread steps of ``key`` for each run (MLflow's sampling)."""
        by_pk, points = self._sampled(run_ids, key, start_step, end_step, max_results)
        by_run: dict[int, list[Metric]] = {}
        for pk, step, ts, value, nan in points:
            by_run.setdefault(pk, []).append(Metric(key, math.nan if nan else value, ts, step, run_id=by_pk[pk]))
        return [m for pk in by_pk if pk in by_run for m in by_run[pk]]

    def sampled_history_columns(
        self, run_ids: Sequence[str], key: str, max_results: int | None = None
    ) -> list[SampledHistory]:
        """The points :meth:`metric_history_bulk_interval` picks, as columns per run (what charts draw):
        runs without a point of ``key`` left out, NaN and infinities as None."""
        by_pk, points = self._sampled(run_ids, key, None, None, max_results)
        by_run: dict[int, SampledHistory] = {}
        for pk, group in itertools.groupby(points, key=operator.itemgetter(0)):  # each run's points come together
            _, steps, stamps, values, nans = zip(*group)  # columns at C speed; the rare NaN or inf fixed after
            if any(nans) or not -math.inf < min(values) <= max(values) < math.inf:
                values = tuple(None if nan or not -math.inf < v < math.inf else v for v, nan in zip(values, nans))
            by_run[pk] = SampledHistory(by_pk[pk], list(steps), list(values), list(stamps))
        return [by_run[pk] for pk in by_pk if pk in by_run]

    def _sampled(
        self, run_ids: Sequence[str], key: str, start_step: int | None, end_step: int | None, max_results: int | None
    ) -> tuple[dict[int, str], list[tuple[int, int, int, float, bool]]]:
        if not run_ids:
            raise InvalidParameterValue(limits.missing_value("run_ids"))
        if len(run_ids) > MAX_BULK_INTERVAL_RUNS:
            raise InvalidParameterValue(
                f"GetMetricHistoryBulkInterval request must specify at most {MAX_BULK_INTERVAL_RUNS} run_ids. "
                f"Received {len(run_ids)} run_ids."
            )
        if not key:
            raise InvalidParameterValue(limits.missing_value("metric_key"))
        if (start_step is None) != (end_step is None):
            raise InvalidParameterValue("If either start step or end step are specified, both must be specified.")
        if start_step is not None and end_step is not None and start_step > end_step:
            raise InvalidParameterValue("end_step must be greater than start_step.")
        max_results = MAX_BULK_INTERVAL_RESULTS if max_results is None else max_results
        limits.check_max_results(max_results, MAX_BULK_INTERVAL_RESULTS)
        with self.store.db.fast_read() as tx:
            rows = [self._row(tx, rid) for rid in run_ids]
            by_pk = {r.pk: r.run_id for r in rows}
            points = self.store.metrics.sampled_history(tx, list(by_pk), key, start_step, end_step, max_results)
        return by_pk, points

    def search(
        self,
        experiment_ids: Sequence[str | int],
        filter_string: str | None = None,
        run_view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """One page of matching runs as :class:`Run` objects."""
        page = self._search(experiment_ids, filter_string, run_view_type, max_results, order_by, page_token, False)
        return PagedList([Run.from_dict(d) for d in page.items], page.next_page_token)

    def search_dicts(
        self,
        experiment_ids: Sequence[str | int],
        filter_string: str | None = None,
        run_view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """One page of matching runs as MLflow wire dicts (``Run.to_dict`` plus ``outputs``), to encode as JSON.

        Each run's ``data.params`` and ``data.tags`` are JSON already (``msgspec.Raw``).
        """
        return self._search(experiment_ids, filter_string, run_view_type, max_results, order_by, page_token, True)

    def _search(
        self,
        experiment_ids: Sequence[str | int],
        filter_string: str | None,
        run_view_type: str,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
        encoded: bool,
    ) -> PagedList:
        limits.check_max_results(max_results, limits.MAX_RESULTS_SEARCH_RUNS)
        if run_view_type not in (ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL):
            raise InvalidParameterValue(
                f"Invalid run_view_type {run_view_type!r}: use ACTIVE_ONLY, DELETED_ONLY or ALL."
            )
        ids = [limits.parse_experiment_id(e, "experiment_ids") for e in experiment_ids]
        filters = parse_run_filter(filter_string)
        order = parse_run_order_by(order_by)
        offset = decode_page_token(page_token)
        if not ids:
            return PagedList([], None)
        runs = run_dicts(self.store.runs.search_page(
            ids, ViewType.stages(run_view_type), filters, order, max_results + 1, offset, encoded
        ))
        token = encode_page_token(offset + max_results) if len(runs) > max_results else None
        return PagedList(runs[:max_results], token)


@functools.cache
def _user() -> str:
    """The process's user name, as MLflow records it; looked up once (``pwd`` costs ~50 µs a call)."""
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def _model_id(model: LoggedModelInput, field: str) -> str:
    model_id = model.model_id
    if not model_id:
        raise InvalidParameterValue(limits.missing_value(field))
    if not isinstance(model_id, str) or "\x00" in model_id:
        raise InvalidParameterValue(limits.invalid_value(field, model_id, "use a logged model's id (m-...)."))
    limits.check_length(field, model_id, 36)
    return model_id
