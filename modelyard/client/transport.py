"""How a :class:`~modelyard.Client` reaches a store: in process, or over HTTP.

Both transports offer the same methods with the same entities in and out;
``LocalTransport`` calls the service directly, ``HttpTransport`` (in
``http.py``) speaks the MLflow REST API plus our bulk-ingest extension.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..artifacts import ArtifactRepository
from ..artifacts.locations import ANYWHERE
from ..entities import (
    DatasetInput,
    Experiment,
    LoggedModelInput,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunTag,
)
from ..service import TrackingService
from ..service.limits import MAX_BULK_METRICS
from ..settings import Settings
from .inference_local import LocalInference
from .logged_models_local import LocalLoggedModels
from .pipelines_local import LocalPipelines
from .registry_local import LocalRegistry
from .traces_local import LocalTraces
from .uri import embedded_location
from .webhooks_local import LocalWebhooks


class Transport(Protocol):
    def create_experiment(self, name: str, artifact_location: str | None, tags: dict[str, str]) -> str: ...
    def get_experiment(self, experiment_id: str) -> Experiment: ...
    def get_experiment_by_name(self, name: str) -> Experiment | None: ...
    def search_experiments(
        self, view_type: str, max_results: int, filter_string: str | None, order_by: list[str] | None, page_token: str | None
    ) -> PagedList: ...
    def rename_experiment(self, experiment_id: str, new_name: str) -> None: ...
    def delete_experiment(self, experiment_id: str) -> None: ...
    def restore_experiment(self, experiment_id: str) -> None: ...
    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None: ...
    def delete_experiment_tag(self, experiment_id: str, key: str) -> None: ...
    def create_run(
        self, experiment_id: str, start_time: int | None, tags: dict[str, str], run_name: str | None, user_id: str | None
    ) -> Run: ...
    def get_run(self, run_id: str) -> Run: ...
    def update_run(self, run_id: str, status: str | None, end_time: int | None, run_name: str | None) -> RunInfo: ...
    def delete_run(self, run_id: str) -> None: ...
    def restore_run(self, run_id: str) -> None: ...
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None,
        run_view_type: str,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> PagedList: ...
    def log_batch(self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]) -> None: ...
    def log_param(self, run_id: str, param: Param) -> None: ...
    def set_tag(self, run_id: str, tag: RunTag) -> None: ...
    def delete_tag(self, run_id: str, key: str) -> None: ...
    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput], models: Sequence[LoggedModelInput] = ()
    ) -> None: ...
    def get_metric_history(self, run_id: str, key: str, max_results: int | None, page_token: str | None) -> PagedList: ...
    def artifact_repository(self, artifact_uri: str) -> ArtifactRepository: ...
    def close(self) -> None: ...


class LocalTransport(LocalRegistry, LocalLoggedModels, LocalWebhooks, LocalInference, LocalPipelines, LocalTraces):
    """The service in this process, over an embedded store."""

    def __init__(self, uri: str) -> None:
        where = embedded_location(uri)
        settings = Settings.from_env(
            backend_store_uri=where.backend_store_uri,
            default_artifact_root=where.artifact_root,
            artifacts_destination=where.artifact_root,
            serve_artifacts=False,
            artifact_roots=ANYWHERE,  # the user's own process: any well-formed location of theirs is theirs
        )
        self.service = TrackingService(settings)
        svc = self.service
        self.create_experiment = svc.experiments.create
        self.get_experiment = svc.experiments.get
        self.get_experiment_by_name = svc.experiments.get_by_name
        self.rename_experiment = svc.experiments.rename
        self.delete_experiment = svc.experiments.delete
        self.restore_experiment = svc.experiments.restore
        self.set_experiment_tag = svc.experiments.set_tag
        self.delete_experiment_tag = svc.experiments.delete_tag
        self.get_run = svc.runs.get
        self.update_run = svc.runs.update
        self.delete_run = svc.runs.delete
        self.restore_run = svc.runs.restore
        self.log_param = svc.runs.log_param
        self.set_tag = svc.runs.set_tag
        self.delete_tag = svc.runs.delete_tag
        self.log_inputs = svc.runs.log_inputs
        self.get_metric_history = svc.runs.metric_history
        self.artifact_repository = svc.artifacts.repository

    def search_experiments(self, view_type, max_results, filter_string, order_by, page_token):  # type: ignore[no-untyped-def]
        return self.service.experiments.search(view_type, max_results, filter_string, order_by, page_token)

    def create_run(self, experiment_id, start_time, tags, run_name, user_id):  # type: ignore[no-untyped-def]
        return self.service.runs.create(experiment_id, user_id, start_time, tags, run_name)

    def search_runs(self, experiment_ids, filter_string, run_view_type, max_results, order_by, page_token):  # type: ignore[no-untyped-def]
        return self.service.runs.search(experiment_ids, filter_string, run_view_type, max_results, order_by, page_token)

    def log_batch(self, run_id, metrics, params, tags):  # type: ignore[no-untyped-def]
        first = True
        for start in range(0, max(len(metrics), 1), MAX_BULK_METRICS):
            chunk = metrics[start : start + MAX_BULK_METRICS]
            self.service.runs.log_batch(
                run_id, chunk, params if first else (), tags if first else (), max_metrics=MAX_BULK_METRICS
            )
            first = False

    def close(self) -> None:
        self.service.close()
