"""Pipelines: runs of steps, cache entries, schedules and their ticks, triggers — the rules."""

from __future__ import annotations

from typing import Any

from ..store import TrackingStore


class PipelinesService:
    def __init__(self, store: TrackingStore, service: Any) -> None:
        self.store = store
        self.service = service  # the TrackingService, for its other parts
