"""The service layer: the rules of modelyard, shared by the SDK and the server."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from ..artifacts.locations import ANYWHERE
from ..settings import Settings
from .artifacts import PROXY_SCHEME, ArtifactService
from .registry_sources import source_pattern

if TYPE_CHECKING:
    from ..store.database import UnitOfWork
    from .experiments import ExperimentService
    from .logged_models import LoggedModelService
    from .registry import RegistryService
    from .runs import RunService

# Loaded on first use: a light module of this package (``limits``) must not load the store.
_LAZY = {
    "ExperimentService": "experiments",
    "LoggedModelService": "logged_models",
    "RegistryService": "registry",
    "RunService": "runs",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)

__all__ = [
    "ArtifactService",
    "ExperimentService",
    "LoggedModelService",
    "RegistryService",
    "RunService",
    "TrackingService",
]


class TrackingService:
    """Experiments, runs and artifacts over one store.

    With ``serve_artifacts`` experiments get ``mlflow-artifacts:/<id>`` locations
    that clients reach through the server; otherwise ``default_artifact_root/<id>``.
    """

    def __init__(self, settings: Settings) -> None:
        from ..store import TrackingStore  # SQLAlchemy and alembic load with the first service
        from . import trace_alerts  # noqa: F401 - registers the "traces" source of monitors (cost and latency)
        from .auth import AuthService
        from .charts import ChartBoardService
        from .datasets import DatasetService
        from .experiments import ExperimentService
        from .inference import InferenceService
        from .logged_models import LoggedModelService
        from .monitoring import MonitoringService
        from .pipelines import PipelinesService
        from .promotion import PromotionService
        from .registry import RegistryService
        from .rollouts import RolloutService
        from .runs import RunService
        from .trace_assessments import AssessmentService
        from .trace_privacy import Redactor
        from .traces import TraceService
        from .usage import UsageService
        from .webhooks import WebhooksService
        from .workspaces import WorkspaceService

        self.settings = settings
        self.store = TrackingStore(settings.backend_store_uri, sqlite_synchronous=settings.sqlite_synchronous)
        destination = settings.artifacts_destination or settings.default_artifact_root
        roots = [settings.default_artifact_root, *settings.artifact_roots.split(",")]
        self.artifacts = ArtifactService(_as_uri(destination), [_as_uri(r.strip()) for r in roots])
        self.experiments = ExperimentService(self.store, self._location_for, self.artifacts.check_location)
        self.runs = RunService(self.store, self.experiments)
        self.registry = RegistryService(self.store, self.runs)
        self.logged_models = LoggedModelService(self.store, self.experiments, self.runs)
        self.registry.logged_model_lookup = self.logged_models.get
        self.registry.logged_model_registered = self.logged_models.record_model_version
        self.runs.check_model_links = self.logged_models.check_links
        self.runs.link_model_metrics = self.logged_models.link_metrics
        self.registry.source_regex = source_pattern(settings.model_version_source_regex)
        self.webhooks = WebhooksService(self.store, self)
        self.inference = InferenceService(self.store, self)
        self.pipelines = PipelinesService(self.store, self)
        self.auth = AuthService(self.store.auth, settings)
        self.traces = TraceService(self.store, self.experiments, self.runs)
        self.traces.redactor = Redactor.from_settings(
            settings.trace_redact_patterns, settings.trace_redact_replacement, settings.trace_redact_function)
        self.traces.payload_limit = settings.trace_max_payload_chars
        self.traces.artifacts = self.artifacts
        self.assessments = AssessmentService(self.store, self.traces)
        self.monitoring = MonitoringService(self.store, self)
        self.charts = ChartBoardService(self.store, self.experiments)
        self.promotion = PromotionService(self.store, self)
        self.rollouts = RolloutService(self.store, self)
        self.datasets = DatasetService(self.store, self.experiments)
        self.usage = UsageService(self.store, self)
        self.workspaces = WorkspaceService(self.store)
        self.registry.workspace_protected = self.workspaces.protected_aliases_of_model
        self.registry.workspace_of = lambda name: self.store.workspaces.of("registered_model", name)
        self.experiments.ensure_default()
        self.workspaces.ensure_default()
        # Small requests may run on the server's event loop only where a query never waits on a network.
        self.inline_small_requests = settings.inline_small_requests and self.store.db.is_sqlite

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        """One transaction for every service call made in the block, across tables: all of them are
        stored, or (an exception leaves the block) none. Calls inside join it; outside one, each call
        is its own transaction.

        >>> with svc.unit_of_work():
        ...     svc.runs.log_batch(run_id, metrics)
        ...     svc.registry.set_registered_model_alias("churn", "champion", "3")
        """
        return self.store.db.unit_of_work()

    def _location_for(self, experiment_id: int) -> str:
        if self.settings.serve_artifacts:
            return f"{PROXY_SCHEME}/{experiment_id}"
        return f"{_as_uri(self.settings.default_artifact_root or self.settings.artifacts_destination)}/{experiment_id}"

    def close(self) -> None:
        self.webhooks.close()
        self.store.close()


def _as_uri(location: str) -> str:
    if not location or location == ANYWHERE or "://" in location or location.startswith("file:"):
        return location.rstrip("/")
    return "file://" + os.path.abspath(location)


