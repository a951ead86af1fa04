"""Model registry rules: names, versions, aliases, stages, search, audit trail."""

from __future__ import annotations

from ..store import TrackingStore
from .runs import RunService


class RegistryService:
    def __init__(self, store: TrackingStore, runs: RunService) -> None:
        self.store = store
        self.runs = runs
