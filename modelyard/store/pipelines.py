"""Pipelines: runs of steps, cache entries, schedules and their ticks, triggers — in SQL."""

from __future__ import annotations

from .database import Database


class PipelinesStore:
    def __init__(self, db: Database) -> None:
        self.db = db
