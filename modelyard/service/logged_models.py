"""MLflow 3 logged models: create, finalize, search, tags, params, metrics, run outputs."""

from __future__ import annotations

from ..store import TrackingStore
from .experiments import ExperimentService
from .runs import RunService


class LoggedModelService:
    def __init__(self, store: TrackingStore, experiments: ExperimentService, runs: RunService) -> None:
        self.store = store
        self.experiments = experiments
        self.runs = runs
