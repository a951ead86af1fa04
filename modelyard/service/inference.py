"""The inference log: served predictions and their later ground truth — the rules."""

from __future__ import annotations

from typing import Any

from ..store import TrackingStore


class InferenceService:
    def __init__(self, store: TrackingStore, service: Any) -> None:
        self.store = store
        self.service = service  # the TrackingService, for its other parts
