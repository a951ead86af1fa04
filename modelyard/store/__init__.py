"""The tracking store: SQL over SQLite or PostgreSQL."""

from __future__ import annotations

from ..entities import Experiment
from ..entities.query import Comparison, OrderKey
from . import (  # noqa: F401  (complete the metadata)
    auth_schema,
    charts_schema,
    inference_schema,
    llm_schema,
    logged_models_schema,
    monitoring_schema,
    pipelines_schema,
    promotion_schema,
    registry_schema,
    traces_schema,
    webhooks_schema,
)
from .auth import AuthStore
from .charts import ChartBoardStore
from .database import Database
from .datasets import DatasetStore
from .experiments import ExperimentStore
from .inference import InferenceStore
from .logged_models import LoggedModelStore
from .metrics import MetricStore
from .monitoring import MonitoringStore
from .pipelines import PipelinesStore
from .promotion import PromotionStore
from .registry import RegistryStore
from .runs import RunRow, RunStore
from .search import experiment_search_select
from .traces import TraceStore
from .usage import UsageStore
from .visibility import Visibility
from .webhooks import WebhooksStore
from .workspaces import WorkspaceStore

__all__ = [
    "Database",
    "ExperimentStore",
    "LoggedModelStore",
    "MetricStore",
    "RegistryStore",
    "RunRow",
    "RunStore",
    "TrackingStore",
]


class TrackingStore:
    """Experiments, runs and metrics of one database."""

    def __init__(self, uri: str, *, sqlite_synchronous: str = "FULL") -> None:
        self.db = Database(uri, sqlite_synchronous=sqlite_synchronous)
        self.experiments = ExperimentStore(self.db)
        self.metrics = MetricStore(self.db)
        self.runs = RunStore(self.db, self.metrics)
        self.registry = RegistryStore(self.db)
        self.logged_models = LoggedModelStore(self.db)
        self.webhooks = WebhooksStore(self.db)
        self.inference = InferenceStore(self.db)
        self.pipelines = PipelinesStore(self.db)
        self.auth = AuthStore(self.db)
        self.traces = TraceStore(self.db)
        self.monitoring = MonitoringStore(self.db)
        self.charts = ChartBoardStore(self.db)
        self.promotion = PromotionStore(self.db, self.registry)
        self.datasets = DatasetStore(self.db)
        self.usage = UsageStore(self.db)
        self.workspaces = WorkspaceStore(self.db)

    def close(self) -> None:
        self.db.dispose()

    def experiments_search(
        self,
        stages: tuple[str, ...],
        filters: list[Comparison],
        order_by: list[OrderKey],
        limit: int,
        offset: int,
        visible: Visibility | None = None,
        workspace: str | None = None,
    ) -> list[Experiment]:
        query = experiment_search_select(stages, filters, order_by, limit, offset, self.db.dialect, visible,
                                         workspace)
        return self.experiments.search(query)
